"""Receipts: every fulfilled payment gets a numbered PDF, drawn on the documents queue and kept
in Django's storage (STORAGES["default"]) as receipts/YYYY/MM/<number>.pdf, the month being
the fulfilment's.

``receipt_make`` is run by the payment_processed listener (config/events.py), by
``manage.py receipts_make`` and by the payment admin's "Regenerate receipt". It is safe to
rerun and to run twice at once: the row is got or created (its number, package name and VAT
rate never change), the PDF is drawn from the row, the payment and the seller's settings only,
never the clock, and the file is written again under the same name only when its bytes differ.
"""

import hashlib
import logging
import uuid
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.common.money import CENT
from apps.common.queue import enqueue_on_commit
from apps.ops.selectors import admin_event_payload
from apps.payments import selectors
from apps.payments.models import Payment, Receipt
from apps.payments.receipt_pdf import ReceiptPage, receipt_pdf
from apps.payments.services.transitions import mask_phone
from tasks.documents import receipts as receipt_tasks

log = logging.getLogger("conveyor.payments")

RATE_PLACES = Decimal("0.0001")  # Receipt.vat_rate's


def receipt_make(*, payment_id) -> Receipt:
    """The fulfilled payment's receipt: numbered once, its PDF drawn and stored."""
    payment = selectors.payment_get_for_receipt(payment_id=payment_id)
    if payment is None:
        raise ApplicationError(f"No payment {payment_id}.")
    if payment.status != Payment.Status.FULFILLED:
        raise ApplicationError(f"Payment {payment.pk} is {payment.status}, not fulfilled.")
    receipt = _receipt_numbered(payment)
    pdf = receipt_pdf(receipt_page(receipt=receipt, payment=payment))
    receipt.file = _store(receipt_file_name(receipt=receipt, payment=payment), pdf)
    receipt.sha256, receipt.size = hashlib.sha256(pdf).hexdigest(), len(pdf)
    receipt.generated_at = timezone.now()
    receipt.save(update_fields=["file", "sha256", "size", "generated_at"])
    log.info("receipt.made payment=%s number=%s", payment.pk, receipt.number)
    return receipt


def receipt_make_for_event(*, event_id: int, payload: dict | None = None) -> Receipt | None:
    """The payment_processed listener: the receipt of the event's payment."""
    payload = admin_event_payload(event_id=event_id, payload=payload)
    if payload is None:
        log.warning("receipt.not_made event=%s: gone", event_id)
        return None
    return receipt_make(payment_id=payload["payment"]["id"])


def receipts_make(*, payment_ids: list[str]) -> list[Receipt]:
    """The receipts of these payments, made here and now; none at all unless every id names
    a fulfilled payment (the error lists those that do not)."""
    problems, ids = [], []
    for key in dict.fromkeys(payment_ids):
        try:
            ids.append(uuid.UUID(key))
        except ValueError:
            problems.append(f"{key}: not a payment id")
    statuses = selectors.payment_status_by_id(ids=ids)
    for key in ids:
        status = statuses.get(key)
        if status is None:
            problems.append(f"{key}: no such payment")
        elif status != Payment.Status.FULFILLED:
            problems.append(f"{key}: {status}, not fulfilled")
    if problems:
        raise ApplicationError(f"No receipt made. {'; '.join(problems)}.")
    return [receipt_make(payment_id=key) for key in ids]


def receipts_enqueue(*, payment_ids: list) -> int:
    """Enqueue a (re)make of the receipt of each of these payments that is fulfilled; how many."""
    return _enqueue(selectors.payment_ids_fulfilled(ids=payment_ids))


def receipts_enqueue_missing() -> int:
    """Enqueue a receipt for every fulfilled payment without one (fulfilled before receipts
    existed, or whose making failed for good); how many."""
    return _enqueue(selectors.payment_ids_lacking_receipt())


def _enqueue(payment_ids: Iterable) -> int:
    # One waits per payment (make_receipt is unique), however often this is asked.
    sent = 0
    for payment_id in payment_ids:
        enqueue_on_commit(receipt_tasks.make_receipt, payment_id=payment_id)
        sent += 1
    return sent


def receipt_file_name(*, receipt: Receipt, payment: Payment) -> str:
    when = timezone.localtime(_issued_at(payment), timezone.get_default_timezone())
    return f"receipts/{when:%Y/%m}/{receipt.number}.pdf"


def receipt_page(*, receipt: Receipt, payment: Payment) -> ReceiptPage:
    """What the receipt says, worded."""
    rate = receipt.vat_rate
    amount = payment.amount
    if payment.mpesa_receipt:
        money = ("M-Pesa receipt", payment.mpesa_receipt)
    else:
        money = ("Stripe reference", payment.stripe_reference or "")
    totals = [("Total paid", kes(amount))]
    if rate:  # a seller not registered for VAT shows none, rather than "VAT 0%"
        vat = vat_included(amount, rate)
        totals[:0] = [
            ("Amount excluding VAT", kes(amount - vat)),
            (f"VAT {percent(rate)}", kes(vat)),
        ]
    seller = [settings.RECEIPT_OPERATOR_NAME, settings.RECEIPT_OPERATOR_ADDRESS]
    if settings.RECEIPT_OPERATOR_TAX_PIN:
        seller.append(f"PIN {settings.RECEIPT_OPERATOR_TAX_PIN}")
    return ReceiptPage(
        number=receipt.number,
        seller=tuple(line for line in seller if line),
        details=(
            ("Date paid", _when(payment.paid_at or _issued_at(payment))),
            ("Date issued", _when(_issued_at(payment))),
            ("Paid with", payment.get_method_display()),
            money,
            ("Our reference", payment.reference),
            ("Customer", mask_phone(payment.phone)),
            ("Package", receipt.package_name),
        ),
        totals=tuple(totals),
        footer=f"Prices include VAT at {percent(rate)}." if rate else "",
    )


def vat_included(amount: Decimal, rate: Decimal) -> Decimal:
    """The VAT inside a VAT-inclusive ``amount``, to the cent, half up."""
    return (amount * rate / (1 + rate)).quantize(CENT, rounding=ROUND_HALF_UP)


def percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


def kes(amount: Decimal) -> str:
    return f"KES {amount:,.2f}"


def _receipt_numbered(payment: Payment) -> Receipt:
    """The payment's receipt row: the one read with it, else created with its number in one
    transaction (a concurrent creator loses on the unique payment and reads the winner's)."""
    try:
        return payment.receipt
    except Receipt.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            receipt = Receipt.objects.create(
                payment=payment,
                package_name=payment.package.name,
                # To the column's places, as a rerun will read it back.
                vat_rate=Decimal(str(settings.RECEIPT_VAT_RATE)).quantize(RATE_PLACES),
            )
            receipt.number = f"{settings.RECEIPT_PREFIX}{receipt.pk:08d}"
            receipt.save(update_fields=["number"])
    except IntegrityError:
        return Receipt.objects.get(payment=payment)
    return receipt


def _store(name: str, pdf: bytes) -> str:
    """``pdf`` in storage as ``name``. A file already there with the same bytes is left alone;
    other bytes are replaced (storage never overwrites: it would pick a new name)."""
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as handle:
            if handle.read() == pdf:
                return name
        default_storage.delete(name)
    stored = default_storage.save(name, ContentFile(pdf))
    if stored != name:
        # A concurrent run stored the same receipt between our delete and save: keep one.
        default_storage.delete(stored)
    return name


def _issued_at(payment: Payment):
    return payment.fulfilled_at or payment.paid_at or payment.created_at


def _when(value) -> str:
    return timezone.localtime(value, timezone.get_default_timezone()).strftime("%d %b %Y %H:%M %Z")
