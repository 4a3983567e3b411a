"""Purchases: a PENDING payment for a package, and the packages on sale."""

import logging
import secrets

from django.db import IntegrityError, transaction

from apps.accounts.phone import normalize_phone
from apps.common.errors import ApplicationError
from apps.common.queue import enqueue_on_commit
from apps.payments import daraja, selectors
from apps.payments.models import Package, Payment
from tasks import payments as payment_tasks

log = logging.getLogger("conveyor.payments")

REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone


def purchase_create(
    *, phone: str, package_code: str, method: str = Payment.Method.STK_PUSH
) -> Payment:
    """A PENDING payment for ``package_code``; an STK push is requested once it commits."""
    package = selectors.package_get_on_sale(code=package_code)
    if package is None:
        raise ApplicationError(f"There is no package {package_code!r} on sale.")
    payment = Payment(
        phone=normalize_phone(phone), package=package, amount=package.price, method=method
    )
    # Field checks only: the database enforces uniqueness, and a reference drawn twice
    # (one chance in a billion) is drawn again.
    payment.full_clean(exclude=["reference"], validate_unique=False, validate_constraints=False)
    for attempt in range(5):
        payment.reference = _new_reference()
        try:
            with transaction.atomic():
                payment.save(force_insert=True)
            break
        except IntegrityError:
            if attempt == 4:
                raise
    if method == Payment.Method.STK_PUSH:
        enqueue_on_commit(payment_tasks.request_stk_push, payment_id=payment.pk)
    log.info(
        "payment.created id=%s reference=%s package=%s amount=%s method=%s",
        payment.pk,
        payment.reference,
        package.code,
        payment.amount,
        method,
    )
    return payment


def package_seed(*, packages: list[dict]) -> list[Package]:
    """Create the packages whose code is new; existing ones keep their admin edits."""
    created = []
    for fields in packages:
        package, is_new = Package.objects.get_or_create(code=fields["code"], defaults=fields)
        if is_new:
            created.append(package)
    return created


def _new_reference() -> str:
    # The reference rides in the STK callback URL, so it must not spell a word Daraja filters.
    while True:
        reference = "HS" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))
        if not daraja.url_is_filtered(reference):
            return reference


def normalize_reference(text: str) -> str:
    """What a customer typed as the paybill account number, as we store references."""
    return "".join(ch for ch in text.upper() if ch.isalnum())
