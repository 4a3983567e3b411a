"""The payment state machine's moves, shared by every way money arrives.

Every transition is a conditional UPDATE on the payment's current status, so a duplicated
callback, a redelivered task or two workers at once change a payment at most once. Work for
the queue is enqueued only once the transaction has committed.
"""

import logging
import uuid
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.db import transaction
from django.utils import timezone

from apps.common.db import savepoint_if_nested
from apps.common.queue import enqueue_on_commit
from apps.ops.models import AdminEvent
from apps.ops.services import event_emit
from apps.payments import selectors
from apps.payments.models import Payment
from tasks import payments as payment_tasks

log = logging.getLogger("conveyor.payments")

Status = Payment.Status
CANCELLED_BY_USER = "1032"


class CallbackResult(StrEnum):
    """What a callback or webhook did (its text is what the hooks answer and log)."""

    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DUPLICATE = "duplicate"
    SUSPENSE = "suspense"
    REFUNDED = "refunded"
    IGNORED = "ignored"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Outcome:
    """A callback's result, with the reason when it is rejected (for the 4xx answer)."""

    result: CallbackResult
    reason: str = ""

    @property
    def rejected(self) -> bool:
        return self.result == CallbackResult.REJECTED


def rejected(reason: str) -> Outcome:
    log.warning("payment.callback_rejected reason=%s", reason)
    return Outcome(CallbackResult.REJECTED, reason)


def payment_fail(*, payment_id, code: str, desc: str, raw: str = "") -> bool:
    """PENDING -> FAILED (or CANCELLED for 1032), once; emits PaymentFailed."""
    status = Status.CANCELLED if code == CANCELLED_BY_USER else Status.FAILED
    now = timezone.now()
    with transaction.atomic():
        changed = Payment.objects.filter(pk=payment_id, status=Status.PENDING).update(
            status=status,
            result_code=code,
            result_desc=desc[:1000],
            raw_callback=raw,
            failed_at=now,
            updated_at=now,
        )
        if changed:
            payment = selectors.payment_get(payment_id=payment_id)
            payment_event_emit(
                type=AdminEvent.Type.PAYMENT_FAILED, payment=payment, error=f"{code}: {desc}"
            )
    if changed:
        log.info("payment.%s id=%s code=%s desc=%s", status, payment_id, code, desc)
    return bool(changed)


def payment_mark_paid(
    *,
    payment_id: uuid.UUID | str,
    receipt: str | None,
    raw: str,
    desc: str = "",
    stripe_reference: str | None = None,
    amount: Decimal | None = None,
) -> bool:
    """PENDING -> PAID, once (with ``amount``, only if it is the payment's amount); enqueues
    fulfil_payment when it commits. A receipt or Stripe reference already used elsewhere
    raises IntegrityError."""
    now = timezone.now()
    changes = {
        "status": Status.PAID,
        "paid_at": now,
        "result_code": "0",
        "result_desc": desc[:1000],
        "raw_callback": raw,
        "updated_at": now,
    }
    if receipt:
        changes["mpesa_receipt"] = receipt
    if stripe_reference:
        changes["stripe_reference"] = stripe_reference
    open_payment = Payment.objects.filter(pk=payment_id, status=Status.PENDING)
    if amount is not None:
        open_payment = open_payment.filter(amount=amount)
    # One UPDATE is atomic by itself; inside a transaction a savepoint keeps a duplicate
    # receipt's IntegrityError from breaking it.
    with savepoint_if_nested():
        changed = open_payment.update(**changes)
    if changed:
        enqueue_on_commit(payment_tasks.fulfil_payment, payment_id=payment_id)
        log.info("payment.paid id=%s receipt=%s", payment_id, receipt)
    return bool(changed)


# --- admin events --------------------------------------------------------------------


def payment_event_emit(*, type: str, payment: Payment, **extra) -> None:
    """An admin event about ``payment``; ``extra`` joins its payload."""
    event_emit(type=type, payload={"payment": payment_payload(payment), **extra})


def payment_payload(payment: Payment) -> dict:
    """How an admin event shows a payment (the phone number masked)."""
    return {
        "id": str(payment.pk),
        "reference": payment.reference,
        "amount": str(payment.amount),
        "phone_number": mask_phone(payment.phone),
        "transaction_id": payment.mpesa_receipt or payment.stripe_reference,
        "package": payment.package.name,
        "status": payment.status,
    }


def mask_phone(phone: str) -> str:
    return f"{phone[:6]}***{phone[-3:]}" if len(phone) > 9 else "***"
