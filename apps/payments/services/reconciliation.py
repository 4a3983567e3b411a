"""Reconciliation: the minute sweep that settles what no callback settled, and the STK
query it sends for a push with no callback."""

import json
import logging
from enum import StrEnum

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.common.queue import enqueue_on_commit
from apps.ops.models import AdminEvent
from apps.payments import daraja, selectors
from apps.payments.models import Payment, StkRequest
from apps.payments.services.suspense import suspense_apply_late_pushes
from apps.payments.services.transitions import (
    Status,
    payment_event_emit,
    payment_fail,
    payment_mark_paid,
)
from tasks import payments as payment_tasks

log = logging.getLogger("conveyor.payments")


class QueryResult(StrEnum):
    """What an STK query did to its payment."""

    SETTLED = "settled"  # nothing left to do: settled already, or by another worker
    UNKNOWN = "unknown"  # Daraja has no final word yet
    PAID = "paid"
    FAILED = "failed"


def stk_request_settle_by_query(*, stk_request_id: int) -> QueryResult:
    """Ask Daraja about a push that got no callback, and settle the payment by its answer."""
    stk = selectors.stk_request_get(stk_request_id=stk_request_id)
    if stk is None:
        return QueryResult.SETTLED
    if stk.payment.status != Status.PENDING:
        return QueryResult.SETTLED
    StkRequest.objects.filter(pk=stk.pk).update(queried_at=timezone.now())
    try:
        answer = daraja.stk_query(stk.checkout_request_id)
    except daraja.DarajaNoRecord as exc:
        # "Being processed" (or not known yet): no final word; the expiry sweep ends it if
        # none comes.
        StkRequest.objects.filter(pk=stk.pk).update(query_result=exc.code)
        return QueryResult.UNKNOWN
    StkRequest.objects.filter(pk=stk.pk).update(query_result=answer.result_code[:32])
    raw = json.dumps(
        {"stk_query": {"ResultCode": answer.result_code, "ResultDesc": answer.result_desc}}
    )
    if answer.result_code == "0":
        with transaction.atomic():
            paid = payment_mark_paid(
                payment_id=stk.payment_id, receipt=None, raw=raw, desc=answer.result_desc
            )
        return QueryResult.PAID if paid else QueryResult.SETTLED
    payment_fail(
        payment_id=stk.payment_id, code=answer.result_code, desc=answer.result_desc, raw=raw
    )
    return QueryResult.FAILED


def payments_reconcile() -> dict[str, int]:
    """The minute sweep: apply suspense whose push has since been saved, query pushes
    without a callback, re-send work lost on the way (pushes never made, paid payments
    never fulfilled), expire what nobody settled."""
    now = timezone.now()
    batch = settings.RECONCILE_BATCH
    query_before = now - timezone.timedelta(seconds=settings.RECONCILE_QUERY_AFTER)
    nudge_before = now - timezone.timedelta(seconds=settings.RECONCILE_NUDGE_AFTER)
    push_before = now - timezone.timedelta(seconds=settings.RECONCILE_PUSH_AFTER)
    expire_before = now - timezone.timedelta(seconds=settings.PAYMENT_EXPIRE_AFTER)
    counts = {"queried": 0, "pushed": 0, "fulfilling": 0, "expired": 0, "gave_up": 0}
    counts["suspense_applied"] = suspense_apply_late_pushes(limit=batch)

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
            enqueue_on_commit(payment_tasks.settle_stk_by_query, stk_request_id=stk_id)
            counts["queried"] += 1

    nudgeable = Payment.objects.filter(nudges__lt=settings.RECONCILE_MAX_NUDGES)
    unpushed = nudgeable.filter(
        status=Status.PENDING,
        method=Payment.Method.STK_PUSH,
        created_at__lt=push_before,
        stk_requests__isnull=True,
        created_at__gte=expire_before,
    )
    counts["pushed"], gave_up = _nudge(unpushed, payment_tasks.request_stk_push, push_before, batch)
    paid = nudgeable.filter(status=Status.PAID, paid_at__lt=nudge_before)
    counts["fulfilling"], more = _nudge(paid, payment_tasks.fulfil_payment, nudge_before, batch)
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
            payment_event_emit(
                type=AdminEvent.Type.PAYMENT_FAILED,
                payment=payment,
                error=f"{task.name.rsplit('.', 1)[-1]} re-sent {payment.nudges + 1} times; "
                "the reconciler stops here",
            )
        enqueue_on_commit(task, payment_id=payment.pk)
        sent += 1
    return sent, gave_up
