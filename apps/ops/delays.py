"""Delays of any length, safely: long ones wait in the database, not in the broker.

Celery on Redis keeps a message with an ETA unacknowledged in a worker until it is due, and
Redis hands a message unacknowledged for longer than the visibility timeout to another worker
(kombu#337): a long countdown runs twice. So a delay longer than ``DELAY_ETA_MAX`` (the
visibility timeout less the longest hard limit and a margin) is held as a DelayedJob row,
written in the caller's transaction, and ``delayed_jobs_publish`` (beat, every minute)
publishes each as an ETA message ``DELAY_LEAD`` before it is due, so it runs on time.

The row stays until the job starts (the DELAYED header names it). A job published but not
started ``DELAY_GRACE`` after it was due and after its last publish (its message lost: a Redis
flush) is published again with a new task id; the copy with the row's task id claims the row
when it starts, and a superseded copy that starts skips itself. Started rows are pruned with
the history.
"""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.ops.models import DelayedJob
from config.celery import app

log = logging.getLogger("conveyor.delays")

DELAYED = "delayed"  # the header: the DelayedJob's id


def delay_hold(*, task_name: str, args, kwargs, due_at: datetime, options: dict) -> DelayedJob:
    """Hold a job due at ``due_at``; ``options`` are its publish options (queue, headers)."""
    task_id = options.pop("task_id", None) or str(uuid.uuid4())
    job = DelayedJob.objects.create(
        task_name=task_name,
        args=list(args or ()),
        kwargs=dict(kwargs or {}),
        options=options,
        due_at=due_at,
        task_id=task_id,
    )
    log.info("delay.held id=%s task=%s task_id=%s due_at=%s", job.pk, task_name, task_id, due_at)
    return job


def delayed_jobs_publish() -> int:
    """Publish the held jobs due within the lead, and those whose message was lost; how many.
    Safe to overlap: rows are taken under SKIP LOCKED (on SQLite, one writer at a time)."""
    now = timezone.now()
    lead, grace = timedelta(seconds=settings.DELAY_LEAD), timedelta(seconds=settings.DELAY_GRACE)
    due = Q(published_at__isnull=True, due_at__lte=now + lead)
    # Lost: not started a grace after it was due and after its last publish (so a backlogged
    # queue gets one more copy per grace, not one per minute).
    lost = Q(published_at__lte=now - grace, due_at__lte=now - grace)
    with transaction.atomic():
        jobs = list(
            DelayedJob.objects.select_for_update(skip_locked=True)
            .filter(due | lost, started_at__isnull=True)
            .order_by("due_at")[: settings.DELAY_PUBLISH_CHUNK]
        )
        for job in jobs:
            if job.published_at is not None:  # its message was lost: a new copy
                log.warning("delay.republished id=%s task=%s", job.pk, job.task_name)
                job.task_id = str(uuid.uuid4())
            job.published_at = now
        DelayedJob.objects.bulk_update(jobs, ["task_id", "published_at"])
    # Sent once the new task id is committed: a copy that started before would find the row
    # still naming the old one and skip itself as superseded. A send that fails after the
    # commit is a lost message, sent again a grace later.
    for job in jobs:
        options = {**job.options}
        headers = {**options.pop("headers", {}), DELAYED: job.pk}
        app.send_task(
            job.task_name,
            args=job.args,
            kwargs=job.kwargs,
            task_id=job.task_id,
            countdown=max(0.0, (job.due_at - now).total_seconds()),
            headers=headers,
            **options,
        )
    return len(jobs)


def delayed_job_start(*, job_id: int, task_id: str) -> bool:
    """Whether this copy of a held job may run: the first to start claims the row; its own
    retries and redeliveries run too; a superseded copy (or one whose row is gone) does not."""
    now = timezone.now()
    claimed = DelayedJob.objects.filter(pk=job_id, task_id=task_id, started_at__isnull=True)
    if claimed.update(started_at=now):
        return True
    return DelayedJob.objects.filter(pk=job_id, task_id=task_id).exists()


def delayed_jobs_prune(*, before: datetime) -> int:
    deleted, _ = DelayedJob.objects.filter(started_at__lt=before).delete()
    return deleted
