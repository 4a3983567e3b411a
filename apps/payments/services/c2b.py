"""Paybill (C2B): Daraja's validation question and its confirmation that money moved."""

from django.conf import settings

from apps.payments import selectors
from apps.payments.callbacks import C2BNotice
from apps.payments.models import Payment, Suspense
from apps.payments.services.purchases import normalize_reference
from apps.payments.services.suspense import payment_pay_by_receipt, suspense_hold
from apps.payments.services.transitions import CallbackResult, Outcome, rejected


def payment_validate_c2b(*, notice: C2BNotice) -> tuple[str, str]:
    """Daraja's question before a paybill payment: (ResultCode, ResultDesc)."""
    if notice.shortcode != settings.DARAJA_SHORTCODE:
        return "C2B00015", "Rejected: unknown shortcode"
    payment = _open_by_reference(notice.bill_ref)
    if payment is None:
        return "C2B00012", "Rejected: unknown account number"
    if notice.amount != payment.amount:
        return "C2B00013", f"Rejected: the amount due is {payment.amount}"
    return "0", "Accepted"


def payment_record_c2b(*, notice: C2BNotice, raw: str) -> Outcome:
    """A paybill confirmation (money has moved): paid, duplicate, or kept in suspense."""
    if notice.shortcode != settings.DARAJA_SHORTCODE:
        return rejected(f"Shortcode {notice.shortcode} is not ours.")
    if selectors.receipt_is_recorded(receipt=notice.trans_id):
        return Outcome(CallbackResult.DUPLICATE)
    payment = _open_by_reference(notice.bill_ref)
    if payment is None or notice.amount != payment.amount:
        suspense_hold(
            receipt=notice.trans_id,
            amount=notice.amount,
            raw=raw,
            payment=payment,
            reason=Suspense.Reason.UNMATCHED if payment is None else Suspense.Reason.AMOUNT,
            reference=notice.bill_ref,
        )
        return Outcome(CallbackResult.SUSPENSE)
    outcome = payment_pay_by_receipt(
        payment=payment, receipt=notice.trans_id, raw=raw, desc="C2B confirmation"
    )
    # The money moved whatever we think of it: acknowledge; suspense or staff have it.
    return Outcome(CallbackResult.SUSPENSE) if outcome.rejected else outcome


def _open_by_reference(bill_ref: str) -> Payment | None:
    reference = normalize_reference(bill_ref)
    if not reference:
        return None
    return selectors.payment_get_open(reference=reference)
