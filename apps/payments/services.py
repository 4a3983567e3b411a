"""Writes of the payments domain: purchases, the payment state machine, callbacks.

Every transition is a conditional UPDATE on the payment's current status, so a duplicated
callback, a redelivered task or two workers at once change a payment at most once. Work for
the queue is enqueued only once the transaction has committed.

Money M-Pesa reports as moved that no open payment can take (an unknown CheckoutRequestID
with a success, an amount that differs, a second payment for a paid purchase) is kept in
Suspense for staff: refused as a settlement, never dropped.
"""

import json
import logging
import secrets
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.accounts.phone import normalize_phone
from apps.accounts.services import member_get_or_create_by_phone
from apps.commissions.models import CommissionLedger
from apps.commissions.services import commissions_record
from apps.common.errors import ApplicationError
from apps.common.queue import enqueue_on_commit
from apps.ops.models import AdminEvent
from apps.ops.services import admin_event_emit
from apps.payments import daraja
from apps.payments.callbacks import C2BNotice, StkCallback
from apps.payments.models import Package, Payment, StkRequest, StripeEvent, Suspense
from tasks import payments as payment_tasks

log = logging.getLogger("conveyor.payments")

Status = Payment.Status
CANCELLED_BY_USER = "1032"
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone


@dataclass(frozen=True)
class Outcome:
    """What a callback did: paid, failed, cancelled, duplicate, suspense, ignored, or
    rejected (with the reason, for the 4xx answer)."""

    result: str
    reason: str = ""

    @property
    def rejected(self) -> bool:
        return self.result == "rejected"


def rejected(reason: str) -> Outcome:
    log.warning("payment.callback_rejected reason=%s", reason)
    return Outcome("rejected", reason)


# --- purchases -------------------------------------------------------------------


def purchase_create(*, phone: str, package_code: str, method: str = Payment.Method.STK) -> Payment:
    """A PENDING payment for ``package_code``; an STK push is requested once it commits."""
    package = Package.objects.filter(code=package_code, is_active=True).first()
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
    if method == Payment.Method.STK:
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


# --- STK push --------------------------------------------------------------------


def payment_request_stk(*, payment_id: uuid.UUID | str) -> StkRequest | None:
    """Ask Daraja to prompt the buyer; None when the payment needs no push (any more)."""
    payment = Payment.objects.select_related("package").filter(pk=payment_id).first()
    if payment is None or payment.status != Status.PENDING or payment.method != Payment.Method.STK:
        return None
    if payment.stk_requests.exists():
        return None  # a push was accepted; its callback or the reconciler settles it
    pushed = daraja.stk_push(
        phone=payment.phone,
        amount=payment.amount,
        reference=payment.reference,
        description=payment.package.name,
        callback_url=stk_callback_url(payment.reference),
    )
    # get_or_create: the push's callback may have recorded it already (see _stk_request).
    stk, _ = StkRequest.objects.get_or_create(
        checkout_request_id=pushed.checkout_request_id,
        defaults={"payment": payment, "merchant_request_id": pushed.merchant_request_id},
    )
    log.info("payment.stk_requested id=%s checkout=%s", payment.pk, stk.checkout_request_id)
    return stk


def stk_callback_url(reference: str) -> str:
    """Where Daraja answers a push: the payment's reference rides in the path (delivered
    intact), so a callback that arrives before its push's id is saved, or for a push whose
    worker died before saving it, still finds its payment."""
    base = settings.DARAJA_CALLBACK_BASE_URL.rstrip("/")
    return f"{base}/hooks/stk/{settings.DARAJA_CALLBACK_TOKEN}/{reference}/"


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
            settled_at=now,
            updated_at=now,
        )
        if changed:
            payment = Payment.objects.select_related("package").get(pk=payment_id)
            _event(AdminEvent.Type.PAYMENT_FAILED, payment, error=f"{code}: {desc}")
    if changed:
        log.info("payment.%s id=%s code=%s desc=%s", status, payment_id, code, desc)
    return bool(changed)


def _mark_paid(
    payment: Payment,
    *,
    receipt: str | None,
    raw: str,
    desc: str = "",
    stripe_reference: str | None = None,
) -> bool:
    """PENDING -> PAID, once; enqueues process_payment when it commits."""
    return _mark_paid_by_id(
        payment.pk, receipt=receipt, raw=raw, desc=desc, stripe_reference=stripe_reference
    )


def _mark_paid_by_id(
    payment_id,
    *,
    receipt: str | None,
    raw: str,
    desc: str = "",
    stripe_reference: str | None = None,
    amount: Decimal | None = None,
) -> bool:
    """As _mark_paid, by id; with ``amount``, only if it is the payment's amount."""
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
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        changed = open_payment.update(**changes)
    if changed:
        enqueue_on_commit(payment_tasks.process_payment, payment_id=payment_id)
        log.info("payment.paid id=%s receipt=%s", payment_id, receipt)
    return bool(changed)


# --- Daraja callbacks ------------------------------------------------------------


def payment_record_stk_callback(
    *, callback: StkCallback, raw: str, reference: str | None = None
) -> Outcome:
    """Apply an STK callback to the payment whose push it answers (``reference``: the
    payment named in the callback's path, for a push whose id we have not saved)."""
    if callback.succeeded and _pay_known_push(callback, raw):
        return Outcome(Status.PAID)
    stk = _stk_request(callback, reference)
    if stk is None:
        if callback.succeeded:
            _suspend(
                callback.receipt,
                callback.amount,
                raw,
                None,
                Suspense.Reason.UNMATCHED,
                checkout_request_id=callback.checkout_request_id,
            )
        return rejected(f"Unknown CheckoutRequestID {callback.checkout_request_id}.")
    payment = stk.payment
    if not callback.succeeded:
        if payment_fail(
            payment_id=payment.pk, code=callback.result_code, desc=callback.result_desc, raw=raw
        ):
            cancelled = callback.result_code == CANCELLED_BY_USER
            return Outcome(Status.CANCELLED if cancelled else Status.FAILED)
        return Outcome("duplicate")
    if callback.amount != payment.amount:
        _suspend(callback.receipt, callback.amount, raw, payment, Suspense.Reason.AMOUNT)
        return rejected(f"Amount {callback.amount} differs from the {payment.amount} requested.")
    return _settle_receipt(payment, callback.receipt, raw, callback.result_desc)


def _pay_known_push(callback: StkCallback, raw: str) -> bool:
    """The common case in two statements and no model built: a push we saved, its payment
    open, the amount right. Anything else goes the careful way, which explains and records."""
    payment_id = (
        StkRequest.objects.filter(checkout_request_id=callback.checkout_request_id)
        .values_list("payment_id", flat=True)
        .first()
    )
    if payment_id is None:
        return False
    try:
        return _mark_paid_by_id(
            payment_id,
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
    found = (
        StkRequest.objects.select_related("payment", "payment__package")
        .filter(checkout_request_id=callback.checkout_request_id)
        .first()
    )
    if found or not reference:
        return found
    payment = Payment.objects.filter(
        reference=normalize_reference(reference), method=Payment.Method.STK, status=Status.PENDING
    ).first()
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
    return StkRequest.objects.select_related("payment", "payment__package").get(pk=stk.pk)


def _settle_receipt(payment: Payment, receipt: str, raw: str, desc: str) -> Outcome:
    """Pay ``payment`` with an M-Pesa receipt: paid, duplicate, or suspense if it was closed."""
    try:
        if _mark_paid(payment, receipt=receipt, raw=raw, desc=desc):
            return Outcome(Status.PAID)
    except IntegrityError:
        return rejected(f"Receipt {receipt} already paid another payment.")
    payment.refresh_from_db()
    if payment.mpesa_receipt == receipt:
        return Outcome("duplicate")
    if payment.mpesa_receipt is None and payment.status in (Status.PAID, Status.FULFILLED):
        # Paid on an STK query's word, which carries no receipt: this is the receipt.
        Payment.objects.filter(pk=payment.pk, mpesa_receipt=None).update(mpesa_receipt=receipt)
        return Outcome("duplicate")
    _suspend(receipt, payment.amount, raw, payment, Suspense.Reason.NOT_OPEN)
    return rejected(f"Payment {payment.reference} is {payment.status}; the receipt is kept aside.")


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
    if (
        Payment.objects.filter(mpesa_receipt=notice.trans_id).exists()
        or Suspense.objects.filter(receipt=notice.trans_id).exists()
    ):
        return Outcome("duplicate")
    payment = _open_by_reference(notice.bill_ref)
    if payment is None or notice.amount != payment.amount:
        reason = Suspense.Reason.UNMATCHED if payment is None else Suspense.Reason.AMOUNT
        _suspend(notice.trans_id, notice.amount, raw, payment, reason, notice.bill_ref)
        return Outcome("suspense")
    outcome = _settle_receipt(payment, notice.trans_id, raw, "C2B confirmation")
    # The money moved whatever we think of it: acknowledge; suspense or staff have it.
    return Outcome("suspense") if outcome.rejected else outcome


def _open_by_reference(bill_ref: str) -> Payment | None:
    reference = normalize_reference(bill_ref)
    if not reference:
        return None
    return Payment.objects.filter(reference=reference, status=Status.PENDING).first()


def _suspend(
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
    if not receipt or Payment.objects.filter(mpesa_receipt=receipt).exists():
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
                "payment": _payment_payload(payment) if payment else None,
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


# --- Stripe ----------------------------------------------------------------------

STRIPE_PAID_EVENTS = {"checkout.session.completed", "payment_intent.succeeded"}


@transaction.atomic
def payment_record_stripe_event(*, event: dict, raw: str) -> Outcome:
    """A verified Stripe event, once per event id (the id row and its effect commit together,
    so an event that fails half way is handled again on Stripe's next delivery)."""
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(event_id=event["id"], type=event["type"])
    except IntegrityError:
        return Outcome("duplicate")
    if event["type"] not in STRIPE_PAID_EVENTS:
        return Outcome("ignored")
    obj = event["data"]["object"]
    if event["type"] == "checkout.session.completed" and obj.get("payment_status") != "paid":
        return Outcome("ignored")  # an asynchronous method: its own succeeded event follows
    payment = _stripe_payment(obj)
    if payment is None or not isinstance(obj.get("id"), str) or len(obj["id"]) > 255:
        log.warning("payment.stripe_unmatched event=%s object=%s", event["id"], obj.get("id"))
        return Outcome("ignored")
    record.payment = payment
    record.save(update_fields=["payment"])
    amount = obj.get("amount_total", obj.get("amount_received"))
    currency = str(obj.get("currency") or "").upper()
    if amount != int(payment.amount * 100) or currency != payment.currency:
        paid = Decimal(amount) / 100 if isinstance(amount, int) else None
        _suspend(obj["id"], paid, raw, payment, Suspense.Reason.AMOUNT)
        return Outcome("suspense")
    try:
        with transaction.atomic():
            paid = _mark_paid(
                payment, receipt=None, raw=raw, desc=event["type"], stripe_reference=obj["id"]
            )
    except IntegrityError:
        log.warning("payment.stripe_reused object=%s payment=%s", obj["id"], payment.pk)
        return Outcome("ignored")  # that object already paid another payment
    # Stripe sends a session and an intent event for one payment: the second is a duplicate.
    return Outcome(Status.PAID if paid else "duplicate")


def _stripe_payment(obj: dict) -> Payment | None:
    metadata = obj.get("metadata") or {}
    candidate = obj.get("client_reference_id") or metadata.get("payment_id")
    try:
        return Payment.objects.filter(pk=uuid.UUID(str(candidate))).first()
    except ValueError:
        return None


# --- fulfilment --------------------------------------------------------------------


def payment_fulfil(*, payment_id) -> bool:
    """PAID -> FULFILLED with the hand-off to provisioning and the buyer's upline
    commissions, all in one transaction, once."""
    from apps.provisioning.services import subscription_create_for_payment

    with transaction.atomic():
        payment = (
            Payment.objects.select_for_update()
            .select_related("package")
            .filter(pk=payment_id)
            .first()
        )
        if payment is None:
            raise ApplicationError(f"No payment {payment_id}.")
        if payment.status != Status.PAID:
            return False
        member, created = member_get_or_create_by_phone(phone=payment.phone)
        subscription_create_for_payment(payment=payment, member=member)
        commissions_record(
            source_member_id=member.pk,
            source_kind=CommissionLedger.Source.PURCHASE,
            source_id=payment.pk,
            base=payment.amount,
        )
        payment.status, payment.member = Status.FULFILLED, member
        payment.fulfilled_at = timezone.now()
        payment.save(update_fields=["status", "member", "fulfilled_at", "updated_at"])
        _event(
            AdminEvent.Type.PAYMENT_PROCESSED,
            payment,
            user={
                "id": member.pk,
                "phone_number": _mask(member.phone),
                "is_new": created,
            },
        )
    log.info("payment.fulfilled id=%s member=%s", payment.pk, member.pk)
    return True


def payment_processing_failed(*, payment_id, error: str) -> None:
    """process_payment gave up: the money is in (the payment stays PAID), staff must act."""
    payment = Payment.objects.select_related("package").filter(pk=payment_id).first()
    if payment is not None:
        _event(AdminEvent.Type.PAYMENT_FAILED, payment, error=error)


# --- reconciliation ----------------------------------------------------------------


def payment_settle_from_query(*, stk_request_id: int) -> str:
    """Ask Daraja about a push that got no callback, and settle the payment by its answer."""
    stk = StkRequest.objects.select_related("payment").filter(pk=stk_request_id).first()
    if stk is None:
        return "settled"
    if stk.payment.status != Status.PENDING:
        return "settled"
    StkRequest.objects.filter(pk=stk.pk).update(queried_at=timezone.now())
    try:
        answer = daraja.stk_query(stk.checkout_request_id)
    except daraja.DarajaNoRecord:
        return "unknown"  # no final word yet; the expiry sweep ends it if none comes
    raw = json.dumps(
        {"stk_query": {"ResultCode": answer.result_code, "ResultDesc": answer.result_desc}}
    )
    if answer.result_code == "0":
        with transaction.atomic():
            return (
                "paid"
                if _mark_paid(stk.payment, receipt=None, raw=raw, desc=answer.result_desc)
                else "settled"
            )
    payment_fail(
        payment_id=stk.payment_id, code=answer.result_code, desc=answer.result_desc, raw=raw
    )
    return "failed"


def payments_reconcile() -> dict[str, int]:
    """The minute sweep: query pushes without a callback, re-send work lost on the way
    (pushes never made, paid payments never fulfilled), expire what nobody settled."""
    now = timezone.now()
    batch = settings.RECONCILE_BATCH
    query_before = now - timezone.timedelta(seconds=settings.RECONCILE_QUERY_AFTER)
    nudge_before = now - timezone.timedelta(seconds=settings.RECONCILE_NUDGE_AFTER)
    push_before = now - timezone.timedelta(seconds=settings.RECONCILE_PUSH_AFTER)
    expire_before = now - timezone.timedelta(seconds=settings.PAYMENT_EXPIRE_AFTER)
    counts = {"queried": 0, "pushed": 0, "fulfilling": 0, "expired": 0, "gave_up": 0}

    stale = (
        StkRequest.objects.filter(payment__status=Status.PENDING, created_at__lt=query_before)
        .exclude(queried_at__gte=query_before)
        .values_list("pk", flat=True)[:batch]
    )
    for stk_id in stale:
        # Claiming by timestamp keeps two overlapping sweeps from querying twice.
        if (
            StkRequest.objects.filter(pk=stk_id)
            .exclude(queried_at__gte=query_before)
            .update(queried_at=now)
        ):
            enqueue_on_commit(payment_tasks.query_stk, stk_request_id=stk_id)
            counts["queried"] += 1

    nudgeable = Payment.objects.filter(nudges__lt=settings.RECONCILE_MAX_NUDGES)
    unpushed = nudgeable.filter(
        status=Status.PENDING,
        method=Payment.Method.STK,
        created_at__lt=push_before,
        stk_requests__isnull=True,
        created_at__gte=expire_before,
    )
    counts["pushed"], gave_up = _nudge(unpushed, payment_tasks.request_stk_push, push_before, batch)
    paid = nudgeable.filter(status=Status.PAID, paid_at__lt=nudge_before)
    counts["fulfilling"], more = _nudge(paid, payment_tasks.process_payment, nudge_before, batch)
    counts["gave_up"] = gave_up + more

    for payment_id in Payment.objects.filter(
        status=Status.PENDING, created_at__lt=expire_before
    ).values_list("pk", flat=True)[:batch]:
        counts["expired"] += payment_fail(
            payment_id=payment_id, code="expired", desc="No final word from the payer in time."
        )
    if any(counts.values()):
        log.info("payments.reconciled %s", " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def _nudge(payments, task, before, batch: int) -> tuple[int, int]:
    """Re-enqueue ``task`` for each payment not nudged since ``before``, up to the limit."""
    sent = gave_up = 0
    for payment in payments.exclude(updated_at__gte=before)[:batch]:
        now = timezone.now()
        claimed = Payment.objects.filter(
            pk=payment.pk, status=payment.status, nudges=payment.nudges
        ).update(nudges=payment.nudges + 1, updated_at=now)
        if not claimed:
            continue
        if payment.nudges + 1 == settings.RECONCILE_MAX_NUDGES:
            gave_up += 1
            _event(
                AdminEvent.Type.PAYMENT_FAILED,
                payment,
                error=f"{task.name.rsplit('.', 1)[-1]} re-sent {payment.nudges + 1} times; "
                "the reconciler stops here",
            )
        enqueue_on_commit(task, payment_id=payment.pk)
        sent += 1
    return sent, gave_up


# --- shared --------------------------------------------------------------------------


def _event(type: str, payment: Payment, **extra) -> None:
    admin_event_emit(type=type, payload={"payment": _payment_payload(payment), **extra})


def _payment_payload(payment: Payment) -> dict:
    return {
        "id": str(payment.pk),
        "reference": payment.reference,
        "amount": str(payment.amount),
        "phone_number": _mask(payment.phone),
        "transaction_id": payment.mpesa_receipt or payment.stripe_reference,
        "package": payment.package.name,
        "status": payment.status,
    }


def _mask(phone: str) -> str:
    return f"{phone[:6]}***{phone[-3:]}" if len(phone) > 9 else "***"
