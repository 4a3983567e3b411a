"""The default queue: assignment, reports, housekeeping. Pool and policy: config/queues.py."""

from datetime import date

from config.celery import app


@app.task(bind=True, ignore_result=False)
def ping(self) -> str:
    """Sent by `manage.py queue_ping` to any queue; answers with the worker name (no effects)."""
    return self.request.hostname


@app.task(bind=True)
def assign_daily_activities(self, day: str = "", after_member_id: str = "0") -> int | None:
    """Beat, daily at 00:05: every active member gets the day's active activities, chunk by
    chunk of members; past its time budget it continues in a new task from where it
    stopped. Safe to rerun: an assignment that exists is left alone."""
    from django.conf import settings
    from django.utils import timezone

    from apps.engagement.services import activities_assign_for_day

    day = day or timezone.localdate().isoformat()
    resume = activities_assign_for_day(
        day=date.fromisoformat(day),
        after_member_id=int(after_member_id),
        members=settings.ASSIGN_CHUNK_MEMBERS,
        budget_seconds=self.budget(),
    )
    self.continue_with(None if resume is None else {"day": day, "after_member_id": str(resume)})
    return resume


@app.task
def monitor_queues() -> list[str]:
    """Beat, every minute: a QueueBusy alert for each queue over its thresholds (at most one
    per queue per cool-down). Read only, apart from the alert."""
    from apps.ops.alerts import queues_alert
    from apps.ops.selectors import queue_states

    return queues_alert(queue_states())


@app.task
def prune_history() -> int:
    """Beat, daily: forget failed tasks, admin events and sweep digests' tallies older than
    HISTORY_KEEP_DAYS. Safe to rerun: a second run finds nothing that old."""
    from apps.ops.services import history_prune
    from apps.wallets.services import sweep_credits_prune

    # Two domains: apps.ops may not import wallets, so this task composes them.
    return history_prune() + sweep_credits_prune()


@app.task
def prune_runs() -> int:
    """Beat, hourly: forget the run log's jobs older than RUN_HISTORY_DAYS (recent jobs,
    timelines). Safe to rerun and to overlap: trimming by score twice trims nothing more."""
    from apps.ops.runs import runs_prune

    return runs_prune()


@app.task(unique_for=300)
def reconcile_batches() -> int:
    """Beat, every minute: publish batch callbacks that were decided but whose publish was lost.
    Safe to rerun and to overlap: each is published under its batch's row lock, once."""
    from apps.ops.batches import batches_reconcile

    return batches_reconcile()


@app.task(unique_for=300)
def reconcile_events() -> int:
    """Beat, every minute: send the event listeners whose publish was lost. Safe to rerun and
    to overlap: each is sent under its event's row lock, once."""
    from apps.ops.services import events_reconcile

    return events_reconcile()


@app.task(unique_for=300)
def publish_delayed_jobs() -> int:
    """Beat, every minute: publish the held jobs due soon, and those whose message was lost.
    Safe to rerun and to overlap: rows are taken under SKIP LOCKED and each copy claims its row
    when it starts (apps/ops/delays.py)."""
    from apps.ops.delays import delayed_jobs_publish

    return delayed_jobs_publish()


@app.task(unique_for=300)
def reconcile_documents() -> int:
    """Beat, every 5 minutes: send again the reports and exports that made no progress for
    15 minutes (a lost message, a dead run). Safe to rerun: a build never overlaps itself and
    goes on from its last saved chunk."""
    from apps.documents.services import documents_reconcile

    return documents_reconcile()


@app.task(unique_for=3000)
def make_missing_receipts() -> int:
    """Beat, hourly: queue a receipt for each fulfilled payment without one (its job failed for
    good, or its message was lost). Safe to rerun: one receipt job waits per payment."""
    from apps.payments.services import receipts_enqueue_missing

    return receipts_enqueue_missing()


@app.task(unique_for=300)
def reconcile_imports() -> int:
    """Beat, every 5 minutes: send again the imports that stopped moving (their worker died).
    Safe to rerun: a sent import goes on from its last chunk."""
    from apps.imports.services import imports_reconcile

    return imports_reconcile()


@app.task(unique_for=3600)
def prune_documents() -> int:
    """Beat, daily at 03:30: delete reports and exports older than DOCUMENT_KEEP_DAYS, with
    their files. Safe to rerun: what is gone is gone."""
    from apps.documents.services import documents_prune

    return documents_prune()


@app.task(unique_for=3600)
def prune_imports() -> int:
    """Beat, daily at 03:40: delete the files, error reports and rows of imports finished
    more than IMPORT_KEEP_DAYS ago, keeping each import's counts. Safe to rerun: one import
    at a time, under its row lock, skipping what is pruned already."""
    from apps.imports.services import imports_prune

    return imports_prune()


@app.task
def drain_failed_task_spool() -> int:
    """Beat, every minute: move failures spooled in Redis while the database was away into
    ops.FailedTask. Safe to rerun and to overlap: each spooled failure is recorded once."""
    from apps.ops.services import failed_tasks_drain_spool

    return failed_tasks_drain_spool()


@app.task(unique_for=3600)
def send_report(period: str = "day") -> str:
    """Beat, daily at 02:00, weekly on Sunday at 06:00, monthly on the 1st at 07:00: the last
    period's summary asked for as a file, mailed to staff as a link once made. Safe to rerun:
    the same period while it is being made is the same document."""
    from apps.reports.services import report_send

    return str(report_send(period=period).pk)
