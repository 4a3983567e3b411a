"""Suspense: money M-Pesa or Stripe reports as moved that no open payment can take (an
unknown CheckoutRequestID with a success, an amount that differs, a second payment for a
paid purchase). It is kept, refused as a settlement, never dropped, until it is resolved
once, in one of three ways:

- applied to an open (PENDING) payment of the same amount, by staff in admin or by the
  reconciler when the push it answers has since been saved: the payment is paid with the
  row's receipt and fulfilled through the normal PAID -> FULFILLED path;
- applied as a new purchase, by staff, for a phone and a package whose price is the amount
  (a package of another price is refused, not topped up or split);
- marked refunded outside Conveyor (no money moves here).

Resolving is one conditional UPDATE on the open row and the payment moves by its own
conditional UPDATE, in one transaction: a second apply, a concurrent one, a payment already
paid or an amount that differs is refused (ApplicationError) and changes nothing.
"""

import logging
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.ops.models import AdminEvent
from apps.ops.services import event_emit
from apps.payments import selectors
from apps.payments.models import Payment, StkRequest, Suspense
from apps.payments.services.purchases import purchase_create
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
        event_emit(
            type=AdminEvent.Type.PAYMENT_FAILED,
            payload={
                "payment": payment_payload(payment) if payment else None,
                "receipt": receipt,
                "amount": str(amount),
                "error": f"Receipt {receipt} held in suspense: {row.get_reason_display()}",
            },
        )


# An M-Pesa receipt (MpesaReceiptNumber, TransID); anything else held is a Stripe object id.
MPESA_RECEIPT = re.compile(r"^[A-Z0-9]{6,20}$")


def suspense_mark_refunded(*, ids: list[int], user_id: int) -> int:
    """Staff refunded these outside Conveyor; returns how many were still open."""
    done = Suspense.objects.filter(pk__in=ids, resolved_at=None).update(
        resolved_at=timezone.now(), resolution=Suspense.Resolution.REFUNDED, resolved_by_id=user_id
    )
    log.info("payment.suspense_refunded ids=%s count=%s user=%s", ids, done, user_id)
    return done


def suspense_apply(*, suspense_id: int, payment_id, user_id: int | None) -> Payment:
    """Pay the open payment ``payment_id`` with the money held in ``suspense_id``, once
    (``user_id``: the staff member; None: the reconciler)."""
    row = _open_row(suspense_id)
    payment = selectors.payment_get(payment_id=payment_id)
    if payment is None:
        raise ApplicationError("There is no such payment.")
    if payment.status != Payment.Status.PENDING:
        raise ApplicationError(
            f"Payment {payment.reference} is {payment.status}, not pending: apply the money "
            "as a new purchase instead, or mark it refunded."
        )
    if payment.amount != row.amount:
        raise ApplicationError(
            f"Suspense {row.receipt} holds KES {row.amount}; payment {payment.reference} is "
            f"for KES {payment.amount}."
        )
    with transaction.atomic():
        _resolve(row, payment, user_id)
    return payment


def suspense_apply_as_purchase(
    *,
    suspense_id: int,
    phone: str,
    package_code: str,
    user_id: int,
    router_key: str | None = None,
) -> Payment:
    """A new purchase of ``package_code`` for ``phone``, paid with the money held in
    ``suspense_id``, once. The package's price must be the amount held."""
    row = _open_row(suspense_id)
    if not MPESA_RECEIPT.match(row.receipt):
        raise ApplicationError(
            "Stripe money pays the payment of its session: apply it to that payment, or "
            "mark it refunded."
        )
    package = selectors.package_get_on_sale(code=package_code)
    if package is None:
        raise ApplicationError(f"There is no package {package_code!r} on sale.")
    if package.price != row.amount:
        raise ApplicationError(
            f"Suspense {row.receipt} holds KES {row.amount}; {package.name} costs "
            f"KES {package.price}."
        )
    try:
        with transaction.atomic():
            # A paybill purchase: no STK push is requested for it.
            payment = purchase_create(
                phone=phone,
                package_code=package_code,
                method=Payment.Method.PAYBILL,
                router_key=router_key,
            )
            _resolve(row, payment, user_id)
    except ValidationError as exc:
        raise ApplicationError(" ".join(exc.messages)) from None
    return payment


def suspense_apply_late_pushes(*, limit: int) -> int:
    """Apply open suspense whose CheckoutRequestID now names the saved push of a pending
    payment of the same amount (the callback beat its push's worker); how many applied."""
    push = StkRequest.objects.filter(
        checkout_request_id=OuterRef("checkout_request_id"),
        payment__status=Payment.Status.PENDING,
        payment__amount=OuterRef("amount"),
    )
    found = (
        Suspense.objects.filter(resolved_at=None)
        .exclude(checkout_request_id="")
        .annotate(open_payment=Subquery(push.values("payment_id")[:1]))
        .exclude(open_payment=None)
        .values_list("pk", "open_payment")[:limit]
    )
    applied = 0
    for suspense_id, payment_id in found:
        try:
            suspense_apply(suspense_id=suspense_id, payment_id=payment_id, user_id=None)
            applied += 1
        except ApplicationError as exc:  # settled meanwhile: staff still see the row
            log.info("payment.suspense_not_applied id=%s reason=%s", suspense_id, exc)
    return applied


def _open_row(suspense_id: int) -> Suspense:
    row = Suspense.objects.select_related("applied_to").filter(pk=suspense_id).first()
    if row is None:
        raise ApplicationError("There is no such suspense entry.")
    if row.resolved_at is not None:
        raise ApplicationError(_resolved_text(row))
    return row


def _resolved_text(row: Suspense) -> str:
    how = row.get_resolution_display() or "resolved"
    if row.applied_to is not None:
        how = f"applied to payment {row.applied_to.reference}"
    return f"Suspense {row.receipt} was already {how} on {row.resolved_at:%Y-%m-%d %H:%M}."


def _resolve(row: Suspense, payment: Payment, user_id: int | None) -> None:
    """Claim the open row for ``payment`` and pay it, or raise and change nothing (the
    caller's transaction rolls the claim back)."""
    claimed = Suspense.objects.filter(pk=row.pk, resolved_at=None).update(
        resolved_at=timezone.now(),
        resolution=Suspense.Resolution.APPLIED,
        resolved_by_id=user_id,
        applied_to=payment,
    )
    if not claimed:
        row.refresh_from_db()
        raise ApplicationError(_resolved_text(row))
    is_mpesa = bool(MPESA_RECEIPT.match(row.receipt))
    try:
        paid = payment_mark_paid(
            payment_id=payment.pk,
            receipt=row.receipt if is_mpesa else None,
            stripe_reference=None if is_mpesa else row.receipt,
            raw=row.raw_callback,
            desc=f"Applied from suspense {row.receipt}",
            amount=row.amount,
        )
    except IntegrityError:
        raise ApplicationError(f"Receipt {row.receipt} already paid another payment.") from None
    if not paid:
        raise ApplicationError(f"Payment {payment.reference} is no longer pending.")
    log.info(
        "payment.suspense_applied receipt=%s payment=%s user=%s",
        row.receipt,
        payment.pk,
        user_id,
    )


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
