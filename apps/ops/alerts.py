"""QueueBusy alerts: a queue over its depth or wait threshold writes an AdminEvent (pushed
live to staff), logs a warning and mails ADMINS, at most once per queue per ALERT_COOLDOWN.
Run every minute by beat (tasks.default.monitor_queues) and by `manage.py queue_monitor`."""

import logging

from django.conf import settings
from django.core.mail import mail_admins

from apps.common import redis_client
from apps.ops.models import AdminEvent
from apps.ops.selectors import QueueState
from apps.ops.services import event_emit

log = logging.getLogger("conveyor.ops.alerts")


def queues_alert(statuses: list[QueueState]) -> list[str]:
    """Alert on each busy queue not alerted within the cool-down; the queues alerted."""
    alerted = []
    for status in statuses:
        if not status.busy:
            continue
        fresh = redis_client.client().set(
            f"ops:alert:{status.name}", 1, nx=True, ex=settings.ALERT_COOLDOWN
        )
        if not fresh:
            continue  # alerted within the cool-down: the page still shows it busy
        payload = {
            "queue": status.name,
            "depth": status.depth,
            "max_depth": status.max_depth,
            "oldest_wait": None if status.oldest_wait is None else round(status.oldest_wait, 1),
            "max_wait": status.max_wait,
            "workers": list(status.workers),
        }
        event_emit(type=AdminEvent.Type.QUEUE_BUSY, payload=payload)
        summary = (
            f"queue {status.name} is busy: {status.depth} waiting (max {status.max_depth}), "
            f"oldest {payload['oldest_wait']} s (max {status.max_wait} s), "
            f"workers: {', '.join(status.workers) or 'none'}"
        )
        log.warning("queue.busy %s", summary)
        try:
            mail_admins(f"QueueBusy: {status.name}", summary + "\n")
        except OSError as exc:  # the mail server is away: the event and the log remain
            log.error("queue.busy.unmailed queue=%s error=%s", status.name, exc)
        alerted.append(status.name)
    return alerted
