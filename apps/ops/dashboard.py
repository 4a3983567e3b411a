"""What the operations page shows (/admin/ops/): queues, failed tasks, schedules, events.
Every figure is read when asked: the broker, the workers and apps/ops/metrics.py."""

import time

from django.utils import timezone

from apps.ops import broker, metrics
from apps.ops.models import AdminEvent, FailedTask
from config import queues

ROWS = 50


def queue_rows() -> list[dict]:
    names = list(queues.NAMES)
    backlogs = broker.backlogs(names)
    pools = broker.pools()
    now = time.time()
    rows = []
    for name in names:
        policy, backlog = queues.policy(name), backlogs[name]
        wait = backlog.oldest_wait(now)
        pool = pools.get(name, {"workers": [], "processes": 0})
        busy = backlog.depth > policy.alert_depth or (wait or 0) > policy.alert_wait
        rows.append(
            {
                "queue": name,
                "depth": backlog.depth,
                "oldest_wait_s": None if wait is None else round(wait, 1),
                **metrics.queue_rates(name),
                **metrics.runtime_percentiles(name),
                "workers": pool["workers"],
                "processes": pool["processes"],
                "planned_processes": policy.pool,
                "alert_depth": policy.alert_depth,
                "alert_wait_s": policy.alert_wait,
                "status": "busy" if busy else ("no workers" if not pool["workers"] else "ok"),
            }
        )
    return rows


def failed_rows(tag: str = "") -> list[dict]:
    rows = FailedTask.objects.all()
    if tag:
        rows = rows.filter(tags__contains=tag)
    return [
        {
            "id": f.pk,
            "failed_at": f.failed_at.isoformat(),
            "queue": f.queue,
            "task": f.task_name,
            "attempts": f.attempts,
            "reason": f.reason,
            "error": f"{f.exception_type.rsplit('.', 1)[-1]}: {f.exception_message}"[:200],
            "tags": f.tags.split(),
        }
        for f in rows[:ROWS]
    ]


def event_rows(tag: str = "") -> list[dict]:
    rows = AdminEvent.objects.all()
    if tag:
        rows = rows.filter(tags__contains=tag)
    return [e.message() for e in rows[:ROWS]]


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
