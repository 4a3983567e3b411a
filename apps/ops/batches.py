"""Batches: jobs sent together, counted as they end, with callbacks (Laravel's Bus::batch).

    batch_dispatch(name="rate change", jobs=[task.si(chunk=1), ...],
                   then=done.si(), catch=alert.si(), finally_=tidy.si(), allow_failures=True)

Each job carries its batch in the BATCH header, through retries, releases, continuations and
``queue_retry``. A job's final outcome is counted once, in one transaction with the decision it
may trigger, so the last two jobs ending at once on two workers decide each callback once:
- ``catch`` at the first failure (success, permanent failure, exhausted retries, the hard time
  limit and a lost worker are all final outcomes). Without ``allow_failures`` a failure also
  cancels the batch: jobs that have not started yet skip themselves.
- ``finally`` once every job has an outcome, the first time that happens.
- ``then`` once every job has succeeded, which can happen later, when failed jobs of a batch
  with ``allow_failures`` are retried (``queue_retry_batch``) and succeed; never for a batch in
  which a job was skipped.
Callbacks are task signatures, called with ``batch=<id>``, with task ids ``<batch>-<name>``;
one that fails lands in FailedTask like any task. A decided callback is published when the
decision commits; one whose publish was lost is published by ``batches_reconcile``.
"""

import inspect
import logging
import uuid
from collections.abc import Sequence

from celery import signature
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.ops import broker
from apps.ops.models import Batch, BatchJob, FailedTask
from config.celery import app

log = logging.getLogger("conveyor.batches")

BATCH = "batch"  # the header: {"id": <batch>, "job": <job id>}
CALLBACKS = ("catch", "then", "finally")
State = BatchJob.State


def batch_dispatch(
    *,
    jobs: Sequence,
    name: str = "",
    then=None,
    catch=None,
    finally_=None,
    allow_failures: bool = False,
) -> Batch:
    """Create the batch and send its jobs (Celery signatures) once the transaction commits."""
    for sig in (then, catch, finally_):
        if sig is not None:
            callback_check(sig, passes="batch")
    options = {
        "allow_failures": allow_failures,
        **{
            which: dict(sig)
            for which, sig in (("then", then), ("catch", catch), ("finally", finally_))
            if sig is not None
        },
    }
    with transaction.atomic():
        batch = Batch.objects.create(name=name, options=options)
        if jobs:
            _add(batch, jobs)
        else:  # nothing to wait for: it is done, and it succeeded
            Batch.objects.filter(pk=batch.pk).update(finished_at=timezone.now())
            _decide(batch.pk, ["then", "finally"])
    batch.refresh_from_db()
    log.info("batch.dispatched id=%s name=%r jobs=%d", batch.pk, name, len(jobs))
    return batch


def callback_check(sig, *, passes: str) -> None:
    """Refuse now, with a clear error, a callback whose task cannot take ``passes=``: Celery
    would refuse it only when it is sent, long after the caller has gone."""
    app.loader.import_default_modules()
    sig = signature(sig, app=app)
    task = app.tasks.get(sig.task)
    if task is None:
        raise ApplicationError(f"{sig.task} is not a registered task.")
    try:
        inspect.signature(task.run).bind(*sig.args, **{**sig.kwargs, passes: ""})
    except TypeError as exc:
        raise ApplicationError(
            f"{sig.task} cannot be this callback: it is called with {passes}= ({exc})."
        ) from None


def batch_add(*, batch_id, jobs: Sequence) -> Batch:
    """Add jobs to a batch that is still running (Laravel's $batch->add())."""
    with transaction.atomic():
        batch = _locked(batch_id)
        if batch.finished_at is not None or batch.cancelled_at is not None:
            state = "finished" if batch.finished_at else "cancelled"
            raise ApplicationError(f"Batch {batch.pk} is {state}; no jobs can be added to it.")
        _add(batch, jobs)
    batch.refresh_from_db()
    return batch


def _add(batch: Batch, jobs: Sequence) -> None:
    sent = []
    for job in jobs:
        sig = signature(job).clone()
        job_id = sig.options.get("task_id") or str(uuid.uuid4())
        sig.set(task_id=job_id)
        sent.append((job_id, sig))
    BatchJob.objects.bulk_create(
        [BatchJob(batch=batch, job_id=job_id, task_name=sig.task) for job_id, sig in sent]
    )
    Batch.objects.filter(pk=batch.pk).update(
        total=batch.total + len(sent), pending=batch.pending + len(sent)
    )
    batch_id = str(batch.pk)

    def publish() -> None:
        for job_id, sig in sent:
            _send_job(sig, batch_id=batch_id, job_id=job_id)

    transaction.on_commit(publish)


def _send_job(sig, *, batch_id: str, job_id: str) -> None:
    headers = {**sig.options.get("headers", {}), BATCH: {"id": batch_id, "job": job_id}}
    sig.apply_async(headers=headers)


def batch_job_send_again(sig, *, batch_id, job_id: str) -> None:
    """Once the transaction commits, send a copy of the batch's job ``job_id`` whose message
    was lost (a reconciler found its work undone), as a new task counted as that job. A copy
    whose job has already ended counts nothing; one of a cancelled batch skips itself."""
    sig = signature(sig).clone()
    sig.set(task_id=str(uuid.uuid4()))
    transaction.on_commit(
        lambda: _send_job(sig, batch_id=str(batch_id), job_id=job_id), robust=True
    )


def batch_ids_cancelled():
    """The ids of cancelled batches, as a subquery: the rows of their jobs need no resend."""
    return Batch.objects.filter(cancelled_at__isnull=False).values("pk")


def batch_cancel(*, batch_id) -> Batch:
    """Mark the batch cancelled: its jobs that have not started skip themselves."""
    with transaction.atomic():
        batch = _locked(batch_id)
        if batch.finished_at is not None:
            raise ApplicationError(f"Batch {batch.pk} has finished; there is nothing to cancel.")
        if batch.cancelled_at is None:
            batch.cancelled_at = timezone.now()
            batch.save(update_fields=["cancelled_at"])
            log.info("batch.cancelled id=%s", batch.pk)
    return batch


def batch_of(request) -> str | None:
    """The id of the batch the running job belongs to, if any (Laravel's $this->batch())."""
    header = (request.headers or {}).get(BATCH)
    return header["id"] if header else None


def batch_cancelled(header: dict) -> bool:
    """Whether the batch of this job was cancelled (a job asks before it starts)."""
    # Raw SQL: every batch job asks, and building the ORM query cost more than running it.
    table = connection.ops.quote_name(Batch._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT cancelled_at IS NOT NULL FROM {table} WHERE id = %s",  # noqa: S608
            [_db_id(header["id"])],
        )
        row = cursor.fetchone()
    return bool(row and row[0])


def batch_job_finished(header: dict, *, state: str) -> None:
    """Count a job's final outcome once: ``state`` is SUCCEEDED, FAILED or SKIPPED."""
    batch_id, job_id = header["id"], header["job"]
    now = timezone.now()
    if state != State.FAILED and connection.vendor == "postgresql":
        was, pending = _counted_alone(batch_id, job_id, state, now)
        if was is None or pending is not None:
            return  # counted already, or counted now with nothing to decide
    with transaction.atomic():
        was = _move(batch_id, job_id, state, now)
        if was is None:
            return  # counted already: a rerun of a job that had ended, or a repeated report
        failed_delta = (state == State.FAILED) - (was == State.FAILED)
        pending_delta = -1 if was == State.PENDING else 0
        pending = _count(batch_id, pending_delta, failed_delta)
        if pending is None:
            return  # the batch was pruned
        if state == State.FAILED or was == State.FAILED or pending == 0:
            _settle(batch_id, job_id=job_id, state=state, was=was, now=now)


def _move(batch_id, job_id: str, state: str, now) -> str | None:
    """Move the job to ``state`` from the state it may leave; the state it left, or None."""
    for was in _leaves(state):
        moved = BatchJob.objects.filter(batch_id=batch_id, job_id=job_id, state=was).update(
            state=state, finished_at=now
        )
        if moved:
            return was
    return None


def _count(batch_id, pending_delta: int, failed_delta: int) -> int | None:
    """Add the deltas in one statement (the row lock orders concurrent ends) and return the
    jobs it left pending."""
    table = connection.ops.quote_name(Batch._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET pending = pending + %s, failed = failed + %s "  # noqa: S608
            "WHERE id = %s RETURNING pending",
            [pending_delta, failed_delta, _db_id(batch_id)],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]


def _leaves(state: str) -> list[str]:
    """The states a job may leave for ``state``."""
    # A success may follow a failure (a retried job); a failure may repeat (retried, failed
    # again: nothing to count); nothing leaves SUCCEEDED or SKIPPED.
    return [State.PENDING, State.FAILED] if state == State.SUCCEEDED else [State.PENDING]


def _counted_alone(batch_id, job_id: str, state: str, now) -> tuple[str | None, int | None]:
    """PostgreSQL: count the end of a pending job that leaves others pending, the common case,
    in one autocommitted statement; (the state the job is in, if it may leave it for
    ``state``; the jobs left pending, None if nothing was counted). An end that may decide a
    callback (the last, or after a failure) is left for the transaction."""
    # The job's row is locked first, then the batch's, as the transaction does; both WHEREs
    # are checked again on the newest rows, so of two last jobs ending at once one counts
    # here and the other finds one pending and goes to the transaction.
    jobs = connection.ops.quote_name(BatchJob._meta.db_table)
    table = connection.ops.quote_name(Batch._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH was AS (
                SELECT id, state FROM {jobs}
                WHERE batch_id = %(batch)s AND job_id = %(job)s AND state = ANY(%(leaves)s)
                FOR UPDATE
            ), counted AS (
                UPDATE {table} SET pending = pending - 1
                WHERE id = %(batch)s AND pending > 1 AND (SELECT state FROM was) = %(pending)s
                RETURNING pending
            ), moved AS (
                UPDATE {jobs} SET state = %(state)s, finished_at = %(now)s
                WHERE id = (SELECT id FROM was) AND EXISTS (SELECT FROM counted)
            )
            SELECT (SELECT state FROM was), (SELECT pending FROM counted)
            """,  # noqa: S608
            {
                "batch": _db_id(batch_id),
                "job": job_id,
                "leaves": _leaves(state),
                "pending": State.PENDING,
                "state": state,
                "now": now,
            },
        )
        return cursor.fetchone()


def _db_id(batch_id):
    return Batch._meta.pk.get_db_prep_value(batch_id, connection)


def _settle(batch_id, *, job_id: str, state: str, was: str, now) -> None:
    """After a failure, a retried success or the last outcome: the failed ids, cancellation,
    the end, and which callbacks that decides. The row is locked by _count already."""
    batch = Batch.objects.select_for_update().get(pk=batch_id)
    allow = batch.options.get("allow_failures", False)
    due = []
    if state == State.FAILED:
        batch.failed_job_ids = [*batch.failed_job_ids, job_id]
        due.append("catch")
        if not allow and batch.cancelled_at is None:
            batch.cancelled_at = now
    elif was == State.FAILED:
        batch.failed_job_ids = [j for j in batch.failed_job_ids if j != job_id]
    if batch.pending == 0:
        if batch.finished_at is None:
            batch.finished_at = now
        due.append("finally")
        if batch.failed == 0 and not _skipped(batch):
            due.append("then")
    batch.save(update_fields=["failed_job_ids", "cancelled_at", "finished_at"])
    _decide(batch.pk, due)


def _skipped(batch: Batch) -> bool:
    return batch.cancelled_at is not None or batch.jobs.filter(state=State.SKIPPED).exists()


def _decide(batch_id, due: list[str]) -> None:
    """Mark the callbacks of ``due`` decided, once each, and publish them after commit."""
    batch = Batch.objects.select_for_update().get(pk=batch_id)
    new = [w for w in due if w not in batch.fired and w in batch.options]
    if not new:
        return
    batch.fired = [*batch.fired, *new]
    batch.unsent = [*batch.unsent, *new]
    batch.save(update_fields=["fired", "unsent"])
    log.info("batch.decided id=%s callbacks=%s", batch.pk, ",".join(new))
    transaction.on_commit(lambda: batch_callbacks_send(batch_id=batch_id), robust=True)


def batch_callbacks_send(*, batch_id) -> list[str]:
    """Publish the batch's decided callbacks that are not sent yet; the names sent. The row
    lock makes the on-commit publish and the reconciler's publish one."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().filter(pk=batch_id).first()
        if batch is None or not batch.unsent:
            return []
        for which in batch.unsent:
            sig = signature(batch.options[which], app=app)
            sig = sig.replace(kwargs={**sig.kwargs, "batch": str(batch.pk)})
            sig.apply_async(task_id=f"{batch.pk}-{which}")
            log.info("batch.callback_sent id=%s callback=%s task=%s", batch.pk, which, sig.task)
        sent, batch.unsent = batch.unsent, []
        batch.save(update_fields=["unsent"])
    return sent


def batches_reconcile() -> int:
    """Publish callbacks whose publish was lost (the broker away at commit); how many."""
    sent = 0
    for batch_id in Batch.objects.exclude(unsent=[]).values_list("pk", flat=True):
        try:
            sent += len(batch_callbacks_send(batch_id=batch_id))
        except broker.BROKER_ERRORS:
            log.warning("batch.callbacks_unsent id=%s", batch_id, exc_info=True)
    return sent


def batch_retry_failed(*, batch_id) -> tuple[list, list[str]]:
    """Retry the batch's failed jobs from FailedTask (artisan queue:retry-batch)."""
    from apps.ops.services import failed_tasks_retry

    batch = batch_get(batch_id=batch_id)
    ids = list(
        FailedTask.objects.filter(**{f"workflow__{BATCH}__id": str(batch.pk)})
        .order_by("failed_at", "id")
        .values_list("pk", flat=True)
    )
    return failed_tasks_retry(ids=ids)


def batches_prune(
    *, hours: float, unfinished_hours: float | None = None, cancelled_hours: float | None = None
) -> int:
    """Delete finished batches older than ``hours`` and, if asked, unfinished or cancelled
    ones older than theirs (artisan queue:prune-batches); how many."""
    now = timezone.now()
    hour = timezone.timedelta(hours=1)
    doomed = [Batch.objects.filter(finished_at__lt=now - hours * hour)]
    if unfinished_hours is not None:
        before = now - unfinished_hours * hour
        doomed.append(Batch.objects.filter(finished_at__isnull=True, created_at__lt=before))
    if cancelled_hours is not None:
        doomed.append(Batch.objects.filter(cancelled_at__lt=now - cancelled_hours * hour))
    pruned = sum(rows.delete()[1].get(Batch._meta.label, 0) for rows in doomed)
    log.info("batches.pruned count=%d", pruned)
    return pruned


def _locked(batch_id) -> Batch:
    batch = Batch.objects.select_for_update().filter(pk=batch_uuid(batch_id)).first()
    if batch is None:
        raise ApplicationError(f"No batch with id {batch_id}.")
    return batch


def batch_uuid(batch_id) -> uuid.UUID:
    """The batch id as a UUID, or a clear error for anything else."""
    try:
        return uuid.UUID(str(batch_id))
    except ValueError:
        raise ApplicationError(f"{batch_id!r} is not a batch id (a UUID).") from None


def batch_summary(batch: Batch) -> dict:
    """A batch as the commands and pages show it."""
    return {
        "id": str(batch.pk),
        "name": batch.name,
        "total": batch.total,
        "pending": batch.pending,
        "processed": batch.processed,
        "failed": batch.failed,
        "progress": batch.progress,
        "failed_job_ids": batch.failed_job_ids,
        "allow_failures": batch.options.get("allow_failures", False),
        "callbacks": [w for w in CALLBACKS if w in batch.options],
        "fired": batch.fired,
        "created_at": batch.created_at,
        "cancelled_at": batch.cancelled_at,
        "finished_at": batch.finished_at,
    }


def batch_list(*, limit: int = 50) -> list[dict]:
    """The newest batches first."""
    return [batch_summary(b) for b in Batch.objects.order_by("-created_at")[:limit]]


def batch_get(*, batch_id) -> Batch:
    batch = Batch.objects.filter(pk=batch_uuid(batch_id)).first()
    if batch is None:
        raise ApplicationError(f"No batch with id {batch_id}.")
    return batch


def batch_detail(*, batch_id) -> dict:
    """A batch with its jobs counted by state and its failed jobs as FailedTask has them."""
    batch = batch_get(batch_id=batch_id)
    states = dict.fromkeys(State.values, 0)
    for row in batch.jobs.values("state").annotate(n=Count("id")):
        states[row["state"]] = row["n"]
    failures = FailedTask.objects.filter(**{f"workflow__{BATCH}__id": str(batch.pk)})
    return {
        **batch_summary(batch),
        "states": states,
        "failures": [
            {
                "id": row.pk,
                "task_id": row.task_id,
                "task": row.task_name,
                "failed_at": row.failed_at,
                "attempts": row.attempts,
                "reason": row.reason,
                "error": row.error_summary(),
            }
            for row in failures.order_by("failed_at", "id")[:200]
        ],
    }
