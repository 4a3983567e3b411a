"""Reads of the ops domain: failed tasks, admin events, schedules, the state of every queue,
health. The operations page, /metrics, `queue_monitor` and the QueueBusy alerts all read the
queues through ``queue_states``, so they never disagree."""

import logging
import time
from dataclasses import dataclass

from django.db import DatabaseError, connection
from django.db.models import Count, QuerySet
from django.utils import timezone

from apps.common.db import first_match
from apps.ops import broker, metrics
from apps.ops.models import AdminEvent, FailedTask
from config import queues

log = logging.getLogger("conveyor.ops")

ROWS = 50  # failed tasks and events the page shows


def failed_task_list(*, queue: str | None = None, tag: str = "") -> QuerySet[FailedTask]:
    """Failed tasks, newest first; of one queue, or carrying ``tag``."""
    rows = FailedTask.objects.all()
    if queue:
        rows = rows.filter(queue=queue)
    return rows.filter(tags__contains=tag) if tag else rows


def failed_tasks_summary(*, since, until) -> dict[str, int]:
    """Tasks that failed for good in [since, until), per queue."""
    rows = FailedTask.objects.filter(failed_at__gte=since, failed_at__lt=until)
    return dict(rows.values_list("queue").annotate(n=Count("pk")).order_by())


def admin_event_payload(*, event_id: int, payload: dict | None = None) -> dict | None:
    """What a listener was sent with its event (config/events.py), or, for a message sent
    without it (before listeners carried it), the event's as stored; None if it is gone."""
    if payload is not None:
        return payload
    return first_match(AdminEvent.objects.filter(pk=event_id).values_list("payload", flat=True))


def admin_event_list(*, tag: str = "", after_id: int | None = None) -> QuerySet[AdminEvent]:
    """Events newest first; with ``after_id``, those after it, oldest first (a catch-up)."""
    rows = AdminEvent.objects.all()
    if tag:
        rows = rows.filter(tags__contains=tag)
    return rows if after_id is None else rows.filter(pk__gt=after_id).order_by("pk")


@dataclass(frozen=True)
class QueueState:
    """One queue as the broker and its workers see it, against its alert thresholds."""

    name: str
    depth: int
    oldest_wait: float | None  # seconds; None: empty, or no publish time on the oldest
    max_depth: int
    max_wait: float
    workers: tuple[str, ...]
    processes: int  # pool processes consuming it
    planned_processes: int  # the queue table's pool

    @property
    def over_depth(self) -> bool:
        return self.depth > self.max_depth

    @property
    def over_wait(self) -> bool:
        return self.oldest_wait is not None and self.oldest_wait > self.max_wait

    @property
    def busy(self) -> bool:
        return self.over_depth or self.over_wait

    @property
    def status(self) -> str:
        if self.busy:
            return "busy"
        return "ok" if self.workers else "no workers"


def queue_states(
    *,
    names: list[str] | None = None,
    max_depth: dict[str, int] | None = None,
    max_wait: float | None = None,
    fresh: bool = False,
    inspect_timeout: float = 1.0,
) -> list[QueueState]:
    """Every queue's (or ``names``') state. Thresholds are the queue table's unless
    ``max_depth`` (per queue) or ``max_wait`` (every queue) say otherwise. The workers' answer
    is shared by every process for a few seconds; ``fresh`` asks them now. Raises
    broker.BROKER_ERRORS when Redis does not answer."""
    names = names or list(queues.NAMES)
    max_depth = max_depth or {}
    backlogs = broker.backlogs(names)
    pools = broker.pools(timeout=inspect_timeout, fresh=fresh)
    now = time.time()
    states = []
    for name in names:
        policy, pool = queues.policy(name), pools.get(name, {})
        states.append(
            QueueState(
                name=name,
                depth=backlogs[name].depth,
                oldest_wait=backlogs[name].oldest_wait(now),
                max_depth=max_depth.get(name, policy.alert_depth),
                max_wait=policy.alert_wait if max_wait is None else max_wait,
                workers=tuple(pool.get("workers", ())),
                processes=pool.get("processes", 0),
                planned_processes=policy.pool,
            )
        )
    return states


# --- the operations page ----------------------------------------------------------------


def queue_rows() -> list[dict]:
    """Each queue's state with its throughput and runtimes, as the page shows it."""
    return [
        {
            "queue": state.name,
            "depth": state.depth,
            "oldest_wait_s": None if state.oldest_wait is None else round(state.oldest_wait, 1),
            **metrics.queue_rates(state.name),
            **metrics.runtime_percentiles(state.name),
            "workers": list(state.workers),
            "processes": state.processes,
            "planned_processes": state.planned_processes,
            "alert_depth": state.max_depth,
            "alert_wait_s": state.max_wait,
            "status": state.status,
        }
        for state in queue_states()
    ]


def failed_rows(tag: str = "") -> list[dict]:
    return [
        {
            "id": f.pk,
            "failed_at": f.failed_at.isoformat(),
            "queue": f.queue,
            "task": f.task_name,
            "attempts": f.attempts,
            "reason": f.reason,
            "error": f.error_summary()[:200],
            "tags": f.tags.split(),
        }
        for f in failed_task_list(tag=tag)[:ROWS]
    ]


def event_rows(tag: str = "") -> list[dict]:
    return [e.message() for e in admin_event_list(tag=tag)[:ROWS]]


def schedule_rows() -> list[dict]:
    from django_celery_beat.models import PeriodicTask

    now = timezone.now()
    rows = []
    for task in PeriodicTask.objects.select_related("interval", "crontab").order_by("name"):
        if task.name.startswith("celery."):
            continue  # beat's own housekeeping
        rows.append(
            {
                "id": task.pk,
                "name": task.name,
                "task": task.task,
                "enabled": task.enabled,
                "schedule": str(task.interval or task.crontab or task.clocked or task.solar),
                "last_run_at": task.last_run_at.isoformat() if task.last_run_at else None,
                "next_run_at": _next_run(task, now),
                "runs": task.total_run_count,
            }
        )
    return rows


def _next_run(task, now) -> str | None:
    if not task.enabled:
        return None
    try:
        remaining = task.schedule.remaining_estimate(task.last_run_at or now)
    except (AttributeError, TypeError, ValueError):  # a clocked or odd row
        return None
    return max(now, now + remaining).isoformat()


# --- health -------------------------------------------------------------------------------


def health() -> dict:
    """Whether the database and the broker answer, and how fast."""
    checks = {
        "database": _check(_database_ping, DatabaseError),
        "broker": _check(broker.ping, broker.BROKER_ERRORS),
    }
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}


def _database_ping() -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return (time.perf_counter() - started) * 1000


def _check(probe, errors) -> dict:
    try:
        return {"ok": True, "latency_ms": round(probe(), 2)}
    except errors as exc:
        log.warning("health.failed probe=%s error=%s", probe.__name__, exc)
        return {"ok": False, "error": type(exc).__name__}
