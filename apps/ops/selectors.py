"""Reads of the ops domain: failed tasks, the state of each queue, health."""

import logging
import time
from dataclasses import dataclass, field

from django.db import DatabaseError, connection
from django.db.models import Count, QuerySet

from apps.ops import broker
from apps.ops.models import FailedTask
from config import queues

log = logging.getLogger("conveyor.ops")


def failed_task_list(*, queue: str | None = None) -> QuerySet[FailedTask]:
    """Failed tasks, newest first."""
    rows = FailedTask.objects.all()
    return rows.filter(queue=queue) if queue else rows


def failed_tasks_summary(*, since, until) -> dict[str, int]:
    """Tasks that failed for good in [since, until), per queue."""
    rows = FailedTask.objects.filter(failed_at__gte=since, failed_at__lt=until)
    return dict(rows.values_list("queue").annotate(n=Count("pk")).order_by())


@dataclass(frozen=True)
class QueueStatus:
    name: str
    depth: int
    max_depth: int
    oldest_wait: float | None  # seconds
    max_wait: float
    workers: list[str] = field(default_factory=list)

    @property
    def over_depth(self) -> bool:
        return self.depth > self.max_depth

    @property
    def over_wait(self) -> bool:
        return self.oldest_wait is not None and self.oldest_wait > self.max_wait

    @property
    def busy(self) -> bool:
        return self.over_depth or self.over_wait


def queue_status_list(
    *,
    names: list[str] | None = None,
    max_depth: dict[str, int] | None = None,
    max_wait: float | None = None,
    inspect_timeout: float = 1.0,
) -> list[QueueStatus]:
    """Each queue's depth, oldest wait and consumers, against the table's thresholds
    unless ``max_depth`` (per queue) or ``max_wait`` (all queues) override them."""
    names = names or list(queues.NAMES)
    max_depth = max_depth or {}
    backlogs = broker.backlogs(names)
    consumers = broker.consumers(timeout=inspect_timeout)
    now = time.time()
    return [
        QueueStatus(
            name=name,
            depth=backlogs[name].depth,
            max_depth=max_depth.get(name, queues.policy(name).alert_depth),
            oldest_wait=backlogs[name].oldest_wait(now),
            max_wait=max_wait if max_wait is not None else queues.policy(name).alert_wait,
            workers=consumers.get(name, []),
        )
        for name in names
    ]


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
