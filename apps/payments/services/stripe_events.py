"""Stripe: verified webhook events, each event id once.

Money is known by its PaymentIntent: a Checkout Session's ``payment_intent``, or the
intent's own id. The session's and the intent's events for one purchase are the same money
(the second is a duplicate); any other money is kept in Suspense with the event's body:
money that names no payment, the wrong amount, or a second session or intent paid for a
payment already paid or closed. Events that move no money in are acknowledged and ignored.

``charge.refunded`` of the intent that paid a payment tells staff (PaymentRefunded); a full
refund also ends the access it bought, a partial one leaves it (staff decide). A refund of
money that paid nothing (Suspense) changes nothing here.
"""

import logging
import uuid
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.ops.models import AdminEvent
from apps.payments import selectors
from apps.payments.models import Payment, StripeEvent, Suspense
from apps.payments.services.suspense import suspense_hold
from apps.payments.services.transitions import (
    CallbackResult,
    Outcome,
    Status,
    payment_event_emit,
    payment_mark_paid,
)

log = logging.getLogger("conveyor.payments")

STRIPE_PAID_EVENTS = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "payment_intent.succeeded",
}
STRIPE_REFUND_EVENT = "charge.refunded"


@transaction.atomic
def payment_record_stripe_event(*, event: dict, raw: str) -> Outcome:
    """A verified Stripe event, once per event id (the id row and its effect commit together,
    so an event that fails half way is handled again on Stripe's next delivery)."""
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(event_id=event["id"], type=event["type"])
    except IntegrityError:
        return Outcome(CallbackResult.DUPLICATE)
    obj = event["data"]["object"]
    if event["type"] == STRIPE_REFUND_EVENT:
        return _refund(record, obj)
    if event["type"] not in STRIPE_PAID_EVENTS:
        return Outcome(CallbackResult.IGNORED)
    session = event["type"].startswith("checkout.session.")
    if session and obj.get("payment_status") != "paid":
        # An asynchronous method: its own succeeded event follows.
        return Outcome(CallbackResult.IGNORED)
    money = _object_id(obj.get("payment_intent")) if session else None
    money = money or _object_id(obj.get("id"))
    if money is None:
        log.warning("payment.stripe_no_object_id event=%s", event["id"])
        return Outcome(CallbackResult.IGNORED)
    amount = _cents(obj.get("amount_total", obj.get("amount_received")))
    paid = Decimal(amount) / 100 if amount is not None else None
    payment = _stripe_payment(obj, session=session)
    if payment is None:
        log.warning("payment.stripe_unmatched event=%s money=%s", event["id"], money)
        suspense_hold(
            receipt=money, amount=paid, raw=raw, payment=None, reason=Suspense.Reason.UNMATCHED
        )
        return Outcome(CallbackResult.SUSPENSE)
    record.payment = payment
    record.save(update_fields=["payment"])
    currency = str(obj.get("currency") or "").upper()
    if amount != int(payment.amount * 100) or currency != payment.currency:
        suspense_hold(
            receipt=money, amount=paid, raw=raw, payment=payment, reason=Suspense.Reason.AMOUNT
        )
        return Outcome(CallbackResult.SUSPENSE)
    try:
        changed = payment_mark_paid(
            payment_id=payment.pk,
            receipt=None,
            raw=raw,
            desc=event["type"],
            stripe_reference=money,
        )
    except IntegrityError:
        # This intent already paid another payment: the same money, told again.
        log.warning("payment.stripe_reused money=%s payment=%s", money, payment.pk)
        return Outcome(CallbackResult.DUPLICATE)
    if changed:
        return Outcome(CallbackResult.PAID)
    payment.refresh_from_db()
    if payment.stripe_reference == money:
        # The session's and the intent's events for one payment: the second is a duplicate.
        return Outcome(CallbackResult.DUPLICATE)
    suspense_hold(
        receipt=money, amount=paid, raw=raw, payment=payment, reason=Suspense.Reason.NOT_OPEN
    )
    return Outcome(CallbackResult.SUSPENSE)


def _refund(record: StripeEvent, charge: dict) -> Outcome:
    """A refund of the money that paid a payment: staff are told; a full one ends access."""
    money = _object_id(charge.get("payment_intent"))
    payment = selectors.payment_get_by_stripe_reference(reference=money) if money else None
    if payment is None:
        log.info("payment.stripe_refund_unmatched charge=%s money=%s", charge.get("id"), money)
        return Outcome(CallbackResult.IGNORED)
    record.payment = payment
    record.save(update_fields=["payment"])
    amount, refunded = _cents(charge.get("amount")), _cents(charge.get("amount_refunded"))
    full = charge.get("refunded") is True or (
        amount is not None and refunded is not None and refunded >= amount
    )
    access_ended = _end_access(payment) if full else False
    payment.refresh_from_db()
    payment_event_emit(
        type=AdminEvent.Type.PAYMENT_REFUNDED,
        payment=payment,
        refund={
            "charge": charge.get("id"),
            "amount_refunded": str(Decimal(refunded or 0) / 100),
            "full": full,
        },
        access_ended=access_ended,
    )
    log.info("payment.refunded id=%s full=%s access_ended=%s", payment.pk, full, access_ended)
    return Outcome(CallbackResult.REFUNDED)


def _end_access(payment: Payment) -> bool:
    """A payment not yet fulfilled is cancelled (fulfilment skips it); a fulfilled one's
    subscription ends now. Whichever wins a race with fulfilment, the row lock orders them."""
    from apps.provisioning.services import subscription_end_now

    now = timezone.now()
    if Payment.objects.filter(pk=payment.pk, status=Status.PAID).update(
        status=Status.CANCELLED,
        result_desc="Refunded at Stripe before fulfilment.",
        failed_at=now,
        updated_at=now,
    ):
        return True
    return subscription_end_now(payment_id=payment.pk)


def _object_id(value) -> str | None:
    """An id, or the id of an expanded object; None for anything else."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def _cents(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _stripe_payment(obj: dict, *, session: bool) -> Payment | None:
    """Our session's payment, else the one the object names (ours name it both ways)."""
    session_id = _object_id(obj.get("id")) if session else None
    candidate = session_id and selectors.checkout_session_payment_id(session_id=session_id)
    if not candidate:
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        candidate = obj.get("client_reference_id") or metadata.get("payment_id")
    try:
        return selectors.payment_get(payment_id=uuid.UUID(str(candidate)))
    except ValueError:
        return None
