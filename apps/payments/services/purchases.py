"""Purchases: a PENDING payment for a package, and the packages on sale."""

import logging
import secrets

from django.db import IntegrityError

from apps.accounts.phone import normalize_phone
from apps.common.db import savepoint_if_nested
from apps.common.errors import ApplicationError
from apps.common.queue import enqueue_on_commit
from apps.payments import daraja, selectors
from apps.payments.models import Package, Payment
from apps.payments.services.stripe_checkout import checkout_session_create
from apps.provisioning import selectors as provisioning_selectors
from apps.provisioning.models import Router
from apps.provisioning.services import radius_group_write
from tasks import payments as payment_tasks

log = logging.getLogger("conveyor.payments")

REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone


class PurchaseRouterError(ApplicationError):
    """The purchase cannot be placed on a router; ``code`` says why, for the API."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


def purchase_create(
    *,
    phone: str,
    package_code: str,
    method: str = Payment.Method.STK_PUSH,
    router_key: str | None = None,
) -> Payment:
    """A PENDING payment for ``package_code`` on the router named (or identified) by
    ``router_key``; an STK push is requested once it commits."""
    package = selectors.package_get_on_sale(code=package_code)
    if package is None:
        raise ApplicationError(f"There is no package {package_code!r} on sale.")
    router = _purchase_router(package=package, key=router_key)
    payment = Payment(
        phone=normalize_phone(phone),
        package=package,
        amount=package.price,
        method=method,
        router=router,
    )
    # Field checks only: the database enforces uniqueness, and a reference drawn twice
    # (one chance in a billion) is drawn again.
    # The package and router were just read, so their keys are not looked up again.
    checked_already = ["reference", "package", "router"]
    payment.full_clean(exclude=checked_already, validate_unique=False, validate_constraints=False)
    for attempt in range(5):
        payment.reference = _new_reference()
        try:
            with savepoint_if_nested():
                payment.save(force_insert=True)
            break
        except IntegrityError:
            if attempt == 4:
                raise
    if method == Payment.Method.STK_PUSH:
        enqueue_on_commit(payment_tasks.request_stk_push, payment_id=payment.pk)
    elif method == Payment.Method.STRIPE:
        checkout_session_create(payment=payment)  # the buyer needs its URL in this answer
    log.info(
        "payment.created id=%s reference=%s package=%s amount=%s method=%s",
        payment.pk,
        payment.reference,
        package.code,
        payment.amount,
        method,
    )
    return payment


def _purchase_router(*, package: Package, key: str | None) -> Router | None:
    """The router the purchase is fulfilled on: the one named, or the only active one; None
    (RADIUS alone) when there is no active router at all."""
    if key is not None:
        router = provisioning_selectors.router_find_active(key=key)
        if router is None:
            raise PurchaseRouterError(
                f"There is no active router {key!r} (by name or identity).", code="unknown_router"
            )
    else:
        router = provisioning_selectors.router_sole_active()
        if router is None and provisioning_selectors.router_active_exists():
            raise PurchaseRouterError(
                "router is required: several routers are active; send the router's name or "
                "its identity ($(identity) on the hotspot login page).",
                code="router_required",
            )
    # None: every router (package_get_on_sale says whether there are any).
    sold_on = set(package.routers.values_list("pk", flat=True)) if package.sold_on_some else set()
    if sold_on and (router is None or router.pk not in sold_on):
        where = f"on router {router.name!r}" if router else "without a router"
        raise PurchaseRouterError(
            f"Package {package.code!r} is not sold {where}.", code="not_sold_here"
        )
    return router


def package_seed(*, packages: list[dict]) -> list[Package]:
    """Create the packages whose code is new, with their RADIUS plan group; existing ones
    keep their admin edits."""
    created = []
    for fields in packages:
        package, is_new = Package.objects.get_or_create(code=fields["code"], defaults=fields)
        if is_new:
            radius_group_write(package=package)
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
