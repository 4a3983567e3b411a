"""Stripe: a verified webhook event pays the payment it names, once per event id."""

import logging
import uuid
from decimal import Decimal

from django.db import IntegrityError, transaction

from apps.payments import selectors
from apps.payments.models import Payment, StripeEvent, Suspense
from apps.payments.services.suspense import suspense_hold
from apps.payments.services.transitions import CallbackResult, Outcome, payment_mark_paid

log = logging.getLogger("conveyor.payments")

STRIPE_PAID_EVENTS = {"checkout.session.completed", "payment_intent.succeeded"}


@transaction.atomic
def payment_record_stripe_event(*, event: dict, raw: str) -> Outcome:
    """A verified Stripe event, once per event id (the id row and its effect commit together,
    so an event that fails half way is handled again on Stripe's next delivery)."""
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(event_id=event["id"], type=event["type"])
    except IntegrityError:
        return Outcome(CallbackResult.DUPLICATE)
    if event["type"] not in STRIPE_PAID_EVENTS:
        return Outcome(CallbackResult.IGNORED)
    obj = event["data"]["object"]
    if event["type"] == "checkout.session.completed" and obj.get("payment_status") != "paid":
        # An asynchronous method: its own succeeded event follows.
        return Outcome(CallbackResult.IGNORED)
    payment = _stripe_payment(obj)
    if payment is None or not isinstance(obj.get("id"), str) or len(obj["id"]) > 255:
        log.warning("payment.stripe_unmatched event=%s object=%s", event["id"], obj.get("id"))
        return Outcome(CallbackResult.IGNORED)
    record.payment = payment
    record.save(update_fields=["payment"])
    amount = obj.get("amount_total", obj.get("amount_received"))
    currency = str(obj.get("currency") or "").upper()
    if amount != int(payment.amount * 100) or currency != payment.currency:
        paid = Decimal(amount) / 100 if isinstance(amount, int) else None
        suspense_hold(
            receipt=obj["id"], amount=paid, raw=raw, payment=payment, reason=Suspense.Reason.AMOUNT
        )
        return Outcome(CallbackResult.SUSPENSE)
    try:
        with transaction.atomic():
            paid = payment_mark_paid(
                payment_id=payment.pk,
                receipt=None,
                raw=raw,
                desc=event["type"],
                stripe_reference=obj["id"],
            )
    except IntegrityError:
        log.warning("payment.stripe_reused object=%s payment=%s", obj["id"], payment.pk)
        return Outcome(CallbackResult.IGNORED)  # that object already paid another payment
    # Stripe sends a session and an intent event for one payment: the second is a duplicate.
    return Outcome(CallbackResult.PAID if paid else CallbackResult.DUPLICATE)


def _stripe_payment(obj: dict) -> Payment | None:
    metadata = obj.get("metadata") or {}
    candidate = obj.get("client_reference_id") or metadata.get("payment_id")
    try:
        return selectors.payment_get(payment_id=uuid.UUID(str(candidate)))
    except ValueError:
        return None
