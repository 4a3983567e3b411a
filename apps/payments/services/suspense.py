"""Suspense: money M-Pesa or Stripe reports as moved that no open payment can take (an
unknown CheckoutRequestID with a success, an amount that differs, a second payment for a
paid purchase). It is kept for staff: refused as a settlement, never dropped."""

import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.ops.models import AdminEvent
from apps.ops.services import admin_event_emit
from apps.payments import selectors
from apps.payments.models import Payment, Suspense
from apps.payments.services.transitions import (
    CallbackResult,
    Outcome,
    Status,
    payment_mark_paid,
    payment_payload,
    rejected,
)

log = logging.getLogger("conveyor.payments")


def suspense_hold(
    *,
    receipt: str | None,
    amount: Decimal | None,
    raw: str,
    payment: Payment | None,
    reason: str,
    reference: str = "",
    checkout_request_id: str = "",
) -> None:
    """Keep money that settles nothing for staff; once per receipt, and never a receipt
    that already paid a payment (that is a replay, not more money)."""
    if not receipt or selectors.receipt_paid_a_payment(receipt=receipt):
        return
    with transaction.atomic():
        row, created = Suspense.objects.get_or_create(
            receipt=receipt,
            defaults={
                "amount": amount or Decimal(0),
                "raw_callback": raw,
                "payment": payment,
                "reason": reason,
                "reference": reference[:64],
                "checkout_request_id": checkout_request_id,
            },
        )
        if not created:
            return
        log.warning(
            "payment.suspense receipt=%s amount=%s reason=%s payment=%s",
            receipt,
            amount,
            reason,
            payment and payment.pk,
        )
        admin_event_emit(
            type=AdminEvent.Type.PAYMENT_FAILED,
            payload={
                "payment": payment_payload(payment) if payment else None,
                "receipt": receipt,
                "amount": str(amount),
                "error": f"Receipt {receipt} held in suspense: {row.get_reason_display()}",
            },
        )


def suspense_resolve(*, ids: list[int]) -> int:
    """Staff refunded or matched these by hand; returns how many were still open."""
    done = Suspense.objects.filter(pk__in=ids, resolved_at=None).update(resolved_at=timezone.now())
    log.info("payment.suspense_resolved ids=%s count=%s", ids, done)
    return done


def payment_pay_by_receipt(*, payment: Payment, receipt: str, raw: str, desc: str) -> Outcome:
    """Pay ``payment`` with an M-Pesa receipt (STK or C2B): paid, duplicate, or suspense if
    it was closed."""
    try:
        if payment_mark_paid(payment_id=payment.pk, receipt=receipt, raw=raw, desc=desc):
            return Outcome(CallbackResult.PAID)
    except IntegrityError:
        return rejected(f"Receipt {receipt} already paid another payment.")
    payment.refresh_from_db()
    if payment.mpesa_receipt == receipt:
        return Outcome(CallbackResult.DUPLICATE)
    if payment.mpesa_receipt is None and payment.status in (Status.PAID, Status.FULFILLED):
        # Paid on an STK query's word, which carries no receipt: this is the receipt.
        Payment.objects.filter(pk=payment.pk, mpesa_receipt=None).update(mpesa_receipt=receipt)
        return Outcome(CallbackResult.DUPLICATE)
    suspense_hold(
        receipt=receipt,
        amount=payment.amount,
        raw=raw,
        payment=payment,
        reason=Suspense.Reason.NOT_OPEN,
    )
    return rejected(f"Payment {payment.reference} is {payment.status}; the receipt is kept aside.")
