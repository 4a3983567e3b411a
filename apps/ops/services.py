"""Writes of the ops domain: failed tasks recorded, retried, forgotten and flushed."""

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.common.errors import ApplicationError
from apps.ops import broker, chains
from apps.ops.delays import delayed_jobs_prune
from apps.ops.models import AdminEvent, FailedTask
from apps.ops.selectors import failed_task_list
from apps.ops.tags import HEADER as TAGS
from apps.ops.tags import run_tags, stored, tags_of
from config import events, queues, schedules
from config.celery import app

log = logging.getLogger("conveyor.ops")

# Where a failure waits when the database cannot take it (it is moved in later).
SPOOL_KEY = "ops:failed-tasks:spool"
# Staff pages subscribe here for live events.
ADMIN_CHANNEL = "admin-notifications"


def event_emit(*, type: str, payload: dict) -> AdminEvent:
    """Store a domain event and, once the transaction commits, publish it live to staff and
    send each of its listeners (config/events.py) as its own task.

    The row is the record; the live publish is best effort (a page that missed it reloads).
    The listeners are an outbox on the row (``unsent``), written in the caller's transaction:
    a publish the broker did not take is sent again by ``events_reconcile``.
    """
    listeners = list(events.LISTENERS[type])
    event = AdminEvent.objects.create(
        type=type, payload=payload, tags=stored(tags_of(payload)), unsent=listeners
    )
    transaction.on_commit(lambda: _publish(event))
    if listeners:
        transaction.on_commit(lambda: _listeners_send_at_commit(event), robust=True)
    return event


def _listeners_send_at_commit(event: AdminEvent) -> None:
    """The commit's send, from the row in hand: no lock and one autocommitted UPDATE, since
    the reconciler takes only events older than its margin. Were this process to stop between
    the publish and the UPDATE, the reconciler sends the same task ids again, and listeners are
    safe to rerun."""
    sent, error = _listeners_send(event, event.unsent)
    if sent:
        rest = [name for name in event.unsent if name not in sent]
        AdminEvent.objects.filter(pk=event.pk).update(unsent=rest)
    if error is not None:
        raise error


def event_listeners_send(*, event_id: int) -> list[str]:
    """Send the event's listeners the broker has not taken yet; the names sent. Under the row
    lock, so two reconcilers send once; each is marked sent as it goes, so a publish failing
    half-way sends only the rest next time."""
    with transaction.atomic():
        event = AdminEvent.objects.select_for_update().filter(pk=event_id).first()
        if event is None or not event.unsent:
            return []
        sent, error = _listeners_send(event, event.unsent)
        if sent:
            event.unsent = [name for name in event.unsent if name not in sent]
            event.save(update_fields=["unsent"])
    if error is not None:
        raise error
    return sent


def _listeners_send(event: AdminEvent, listeners: list[str]) -> tuple[list[str], Exception | None]:
    """Publish each listener in turn; those the broker took, and the error it stopped at."""
    sent = []
    for listener in listeners:
        task_id = f"event-{event.pk}-{listener.rsplit('.', 1)[-1]}"
        try:
            app.send_task(
                listener,
                kwargs={"event_id": str(event.pk), "payload": event.payload},
                task_id=task_id,
                headers={TAGS: event.tags.split()},  # its runs are on the event's timelines
            )
        except broker.BROKER_ERRORS as exc:
            return sent, exc
        sent.append(listener)
    return sent, None


def events_reconcile(*, older_than: float = 30) -> int:
    """Send the listeners whose publish was lost (the broker away at commit) of events at
    least ``older_than`` seconds old, so a send still on its way is not raced; how many."""
    before = timezone.now() - timedelta(seconds=older_than)
    sent = 0
    pending = AdminEvent.objects.exclude(unsent=[]).filter(created_at__lte=before)
    for event_id in pending.order_by("created_at").values_list("pk", flat=True):
        try:
            sent += len(event_listeners_send(event_id=event_id))
        except broker.BROKER_ERRORS:
            log.warning("event.listeners_unsent id=%s", event_id, exc_info=True)
            break  # the broker is away: the next run tries them all again
    return sent


def _publish(event: AdminEvent) -> None:
    try:
        broker.client().publish(ADMIN_CHANNEL, json.dumps(event.message(), default=str))
    except broker.BROKER_ERRORS:
        log.warning("admin_event.unpublished id=%s type=%s", event.pk, event.type, exc_info=True)


def failed_task_record(
    *,
    task_id: str,
    task_name: str,
    queue: str,
    args: list,
    kwargs: dict,
    exception: BaseException,
    traceback: str,
    attempts: int,
    reason: str,
    hostname: str = "",
    workflow: dict | None = None,
) -> tuple[FailedTask | None, bool]:
    """Record a final failure once per task id; spool it in Redis if the database is down.

    Returns the row (None when spooled) and whether this call is the first to report it.
    """
    fields = {
        "task_name": task_name,
        "queue": queue,
        "args": args,
        "kwargs": kwargs,
        "exception_type": f"{type(exception).__module__}.{type(exception).__qualname__}",
        "exception_message": str(exception),
        "traceback": traceback,
        "attempts": attempts,
        "reason": reason,
        "hostname": hostname,
        "failed_at": timezone.now(),
        "tags": stored(run_tags(kwargs, workflow)),  # a message's own tags are kept there
        "workflow": workflow or {},
    }
    try:
        row, created = FailedTask.objects.get_or_create(task_id=task_id, defaults=fields)
    except DatabaseError:
        log.critical(
            "failed_task.spooled id=%s name=%s (database unavailable)",
            task_id,
            task_name,
            exc_info=True,
        )
        fields["failed_at"] = fields["failed_at"].isoformat()
        payload = json.dumps({"task_id": task_id, "fields": fields})
        try:
            broker.client().rpush(SPOOL_KEY, payload)
        except broker.BROKER_ERRORS:
            log.critical("failed_task.lost payload=%s", payload, exc_info=True)
        return None, True
    if created:  # a failure can be reported by more than one hook; the first one counts
        log.error(
            "failed_task.recorded id=%s name=%s queue=%s reason=%s attempts=%s error=%s: %s",
            task_id,
            task_name,
            queue,
            reason,
            attempts,
            fields["exception_type"],
            exception,
        )
    failed_tasks_drain_spool()
    return row, created


def failed_tasks_drain_spool() -> int:
    """Move spooled failures into the database; safe to run concurrently.

    Runs after each recorded failure, every minute from beat (drain_failed_task_spool) and
    when an operator lists failed tasks with `queue_failed`; never when a page is opened.
    """
    client = broker.client()
    moved = 0
    try:
        spooled = client.lrange(SPOOL_KEY, 0, -1)
    except broker.BROKER_ERRORS:
        log.warning("failed_task.spool_unreadable", exc_info=True)
        return 0
    for raw in spooled:
        item = json.loads(raw)
        fields = item["fields"]
        fields["failed_at"] = parse_datetime(fields["failed_at"])
        FailedTask.objects.get_or_create(task_id=item["task_id"], defaults=fields)
        # LREM of the exact payload: a concurrent drain removes nothing twice.
        moved += client.lrem(SPOOL_KEY, 1, raw)
    return moved


@dataclass(frozen=True)
class Retried:
    failed_task_id: int
    task_name: str
    queue: str
    task_id: str  # of the message published once the retry commits


def failed_task_retry(*, failed_task_id: int) -> Retried:
    """Send the task again on its own queue, with its arguments and all its attempts.

    The row is locked and deleted in one transaction and the message is published only once
    that commits: a second retry of the same row at once (another operator, the CLI and the
    page) waits on the lock, then finds the row gone, and a retry inside a transaction that
    rolls back publishes nothing. If the broker refuses the message the row is put back."""
    app.loader.import_default_modules()
    with transaction.atomic():
        row = FailedTask.objects.select_for_update().filter(pk=failed_task_id).first()
        if row is None:
            raise ApplicationError(f"No failed task with id {failed_task_id}.")
        if row.task_name not in app.tasks:
            raise ApplicationError(
                f"Failed task {row.pk}: {row.task_name} is not a registered task; kept."
            )
        if row.queue not in queues.BY_NAME:
            raise ApplicationError(f"Failed task {row.pk}: queue {row.queue!r} is unknown; kept.")
        retried = Retried(failed_task_id, row.task_name, row.queue, str(uuid.uuid4()))
        fields = {f.attname: getattr(row, f.attname) for f in FailedTask._meta.concrete_fields}
        row.delete()
        transaction.on_commit(lambda: _publish_retry(retried, fields))
    return retried


def _publish_retry(retried: Retried, fields: dict) -> None:
    try:
        app.send_task(
            retried.task_name,
            args=fields["args"],
            kwargs=fields["kwargs"],
            queue=retried.queue,
            task_id=retried.task_id,
            **chains.retry_options(fields["workflow"]),
        )
    except broker.BROKER_ERRORS as exc:
        FailedTask.objects.create(**fields)
        raise ApplicationError(
            f"Failed task {retried.failed_task_id}: the broker does not answer ({exc}); kept."
        ) from exc
    log.info(
        "failed_task.retried id=%s name=%s queue=%s task_id=%s",
        retried.failed_task_id,
        retried.task_name,
        retried.queue,
        retried.task_id,
    )


def failed_tasks_retry(
    *, ids: list[int] | None = None, queue: str | None = None
) -> tuple[list[Retried], list[str]]:
    """Retry the given rows, or all (of ``queue``) oldest first; returns (retried, errors)."""
    if ids is None:
        oldest_first = failed_task_list(queue=queue).order_by("failed_at", "id")
        ids = list(oldest_first.values_list("id", flat=True))
    retried, errors = [], []
    for failed_task_id in ids:
        try:
            retried.append(failed_task_retry(failed_task_id=failed_task_id))
        except ApplicationError as exc:
            errors.append(str(exc))
    return retried, errors


PING_TASK = "tasks.default.ping"  # by name: ops knows no task module


def queue_ping_send(*, queue: str):
    """Send the no-op ping task through ``queue``; its result names the worker that ran it."""
    return app.send_task(PING_TASK, queue=queue)


def failed_task_forget(*, failed_task_id: int) -> None:
    deleted, _ = FailedTask.objects.filter(pk=failed_task_id).delete()
    if not deleted:
        raise ApplicationError(f"No failed task with id {failed_task_id}.")
    log.info("failed_task.forgotten id=%s", failed_task_id)


def failed_tasks_flush(*, older_than_hours: float | None = None) -> int:
    """Delete every failed task, or only those older than ``older_than_hours``."""
    rows = FailedTask.objects.all()
    if older_than_hours is not None:
        rows = rows.filter(failed_at__lt=timezone.now() - timedelta(hours=older_than_hours))
    deleted, _ = rows.delete()
    log.info("failed_task.flushed count=%s older_than_hours=%s", deleted, older_than_hours)
    return deleted


def schedules_seed() -> list[str]:
    """Create the schedules that are missing; never overwrite what staff edited in admin."""
    from django_celery_beat.models import PeriodicTask

    created = []
    for name, (task, when, *kwargs) in schedules.SCHEDULES.items():
        defaults = {"task": task, "kwargs": json.dumps(kwargs[0] if kwargs else {}), **_when(when)}
        _, is_new = PeriodicTask.objects.get_or_create(name=name, defaults=defaults)
        if is_new:
            created.append(name)
    return created


def _when(when: int | str) -> dict:
    from django.conf import settings
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule

    if isinstance(when, int):
        every, _ = IntervalSchedule.objects.get_or_create(
            every=when, period=IntervalSchedule.SECONDS
        )
        return {"interval": every, "expire_seconds": when}
    minute, hour, day_of_month, month_of_year, day_of_week = when.split()
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month_of_year,
        day_of_week=day_of_week,
        timezone=settings.TIME_ZONE,
    )
    expiry = schedules.CRONTAB_EXPIRY["hour" if hour == "*" else "day"]  # weekly, monthly: as daily
    return {"crontab": crontab, "expire_seconds": expiry}


def history_prune() -> int:
    """Delete failed tasks and admin events older than HISTORY_KEEP_DAYS; how many."""
    from django.conf import settings

    before = timezone.now() - timedelta(days=settings.HISTORY_KEEP_DAYS)
    failed, _ = FailedTask.objects.filter(failed_at__lt=before).delete()
    events, _ = AdminEvent.objects.filter(created_at__lt=before).delete()
    delayed = delayed_jobs_prune(before=before)
    log.info(
        "history.pruned failed_tasks=%s events=%s delayed_jobs=%s before=%s",
        failed,
        events,
        delayed,
        before,
    )
    return failed + events + delayed
