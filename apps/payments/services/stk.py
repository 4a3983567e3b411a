"""The STK push: asking Daraja to prompt the buyer, and applying Daraja's callback."""

import logging
import uuid

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from apps.common.db import savepoint_if_nested
from apps.payments import daraja, selectors
from apps.payments.callbacks import StkCallback
from apps.payments.models import Payment, StkRequest, Suspense
from apps.payments.services.purchases import normalize_reference
from apps.payments.services.suspense import payment_pay_by_receipt, suspense_hold
from apps.payments.services.transitions import (
    CANCELLED_BY_USER,
    CallbackResult,
    Outcome,
    Status,
    payment_fail,
    payment_mark_paid,
    rejected,
)

log = logging.getLogger("conveyor.payments")


def payment_request_stk_push(*, payment_id: uuid.UUID | str) -> StkRequest | None:
    """Ask Daraja to prompt the buyer; None when the payment needs no push (any more).

    A push sent but not answered in time (DarajaAmbiguous) may have prompted the buyer, and
    we have no CheckoutRequestID to query it by. It is not retried: its callback, if Daraja
    took it, still finds the payment by the reference in its path; if none comes, the
    reconciler pushes again only RECONCILE_PUSH_AFTER after this (longer than a prompt
    lives), at most RECONCILE_MAX_NUDGES times. So one prompt at a time, a bounded number
    in all; a second payment that still arrives lands in Suspense (payment_pay_by_receipt).
    Refused or unreachable (5xx, no connection) pushes prompted nobody and are retried."""
    payment = selectors.payment_get_for_push(payment_id=payment_id)
    if (
        payment is None
        or payment.status != Status.PENDING
        or payment.method != Payment.Method.STK_PUSH
    ):
        return None
    if payment.has_push:
        return None  # a push was accepted; its callback or the reconciler settles it
    try:
        pushed = daraja.stk_push(
            phone=payment.phone,
            amount=payment.amount,
            reference=payment.reference,
            description=payment.package.name,
            callback_url=stk_callback_url(payment.reference),
        )
    except daraja.DarajaAmbiguous as exc:
        # updated_at is the reconciler's clock for the next push (reconciliation._nudge).
        Payment.objects.filter(pk=payment.pk, status=Status.PENDING).update(
            result_desc=f"STK push unanswered, the buyer may have the prompt: {exc}"[:1000],
            updated_at=timezone.now(),
        )
        log.warning("payment.stk_ambiguous id=%s error=%s (not retried)", payment.pk, exc)
        return None
    # The push's callback may have recorded it already (see _stk_request).
    try:
        with savepoint_if_nested():
            stk = StkRequest.objects.create(
                payment=payment,
                checkout_request_id=pushed.checkout_request_id,
                merchant_request_id=pushed.merchant_request_id,
            )
    except IntegrityError:
        stk = selectors.stk_request_get_by_checkout(checkout_request_id=pushed.checkout_request_id)
        if stk is None:
            raise
    log.info("payment.stk_requested id=%s checkout=%s", payment.pk, stk.checkout_request_id)
    return stk


def stk_callback_url(reference: str) -> str:
    """Where Daraja answers a push: the payment's reference rides in the path (delivered
    intact), so a callback that arrives before its push's id is saved, or for a push whose
    worker died before saving it, still finds its payment."""
    base = settings.DARAJA_CALLBACK_BASE_URL.rstrip("/")
    return f"{base}/hooks/stk/{settings.DARAJA_CALLBACK_TOKEN}/{reference}/"


def payment_record_stk_callback(
    *, callback: StkCallback, raw: str, reference: str | None = None
) -> Outcome:
    """Apply an STK callback to the payment whose push it answers (``reference``: the
    payment named in the callback's path, for a push whose id we have not saved)."""
    if callback.succeeded and _pay_known_push(callback, raw):
        return Outcome(CallbackResult.PAID)
    stk = _stk_request(callback, reference)
    if stk is None:
        if callback.succeeded:
            # The path may name a purchase already settled (a second prompt's payment).
            named = reference and selectors.payment_get_by_reference(
                reference=normalize_reference(reference)
            )
            suspense_hold(
                receipt=callback.receipt,
                amount=callback.amount,
                raw=raw,
                payment=named or None,
                reason=Suspense.Reason.NOT_OPEN if named else Suspense.Reason.UNMATCHED,
                checkout_request_id=callback.checkout_request_id,
            )
        return rejected(f"Unknown CheckoutRequestID {callback.checkout_request_id}.")
    payment = stk.payment
    if not callback.succeeded:
        if payment_fail(
            payment_id=payment.pk, code=callback.result_code, desc=callback.result_desc, raw=raw
        ):
            cancelled = callback.result_code == CANCELLED_BY_USER
            return Outcome(CallbackResult.CANCELLED if cancelled else CallbackResult.FAILED)
        return Outcome(CallbackResult.DUPLICATE)
    if callback.amount != payment.amount:
        suspense_hold(
            receipt=callback.receipt,
            amount=callback.amount,
            raw=raw,
            payment=payment,
            reason=Suspense.Reason.AMOUNT,
        )
        return rejected(f"Amount {callback.amount} differs from the {payment.amount} requested.")
    return payment_pay_by_receipt(
        payment=payment, receipt=callback.receipt, raw=raw, desc=callback.result_desc
    )


def _pay_known_push(callback: StkCallback, raw: str) -> bool:
    """The common case in two statements and no model built: a push we saved, its payment
    open, the amount right. Anything else goes the careful way, which explains and records."""
    payment_id = selectors.stk_request_payment_id(checkout_request_id=callback.checkout_request_id)
    if payment_id is None:
        return False
    try:
        return payment_mark_paid(
            payment_id=payment_id,
            receipt=callback.receipt,
            raw=raw,
            desc=callback.result_desc,
            amount=callback.amount,
        )
    except IntegrityError:
        return False  # a receipt already used: the careful way refuses it


def _stk_request(callback: StkCallback, reference: str | None) -> StkRequest | None:
    """The push this callback answers. A push whose worker died (or was slow) before saving
    its id is recorded here from the callback, if the path names an STK payment still open."""
    found = selectors.stk_request_get_by_checkout(checkout_request_id=callback.checkout_request_id)
    if found or not reference:
        return found
    payment = selectors.payment_get_open(
        reference=normalize_reference(reference), method=Payment.Method.STK_PUSH
    )
    if payment is None:
        return None
    stk, created = StkRequest.objects.get_or_create(
        checkout_request_id=callback.checkout_request_id,
        defaults={"payment": payment, "merchant_request_id": callback.merchant_request_id},
    )
    if created:
        log.warning(
            "payment.stk_adopted id=%s checkout=%s (callback before its saved push)",
            payment.pk,
            stk.checkout_request_id,
        )
    return selectors.stk_request_get_by_checkout(checkout_request_id=stk.checkout_request_id)
