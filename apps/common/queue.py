"""Enqueueing from services: after the transaction commits, never inside it."""

from django.conf import settings
from django.db import transaction


def enqueue_on_commit(task, *, delay: float | None = None, **ids) -> None:
    """Send ``task`` with ``ids`` (as text) once the current transaction commits, due in
    ``delay`` seconds if given.

    robust: a broker outage must not undo committed work; the reconcilers and sweeps find
    anything whose message was lost. A delay longer than DELAY_ETA_MAX is no broker message:
    the task holds it as a row (apps/ops/delays.py), written now, in the caller's transaction,
    so it commits or rolls back with the work that asked for it.
    """
    kwargs = {name: str(value) for name, value in ids.items()}
    if delay is not None and delay > settings.DELAY_ETA_MAX:
        task.apply_async(kwargs=kwargs, countdown=delay)
        return
    transaction.on_commit(lambda: task.apply_async(kwargs=kwargs, countdown=delay), robust=True)
