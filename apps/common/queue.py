"""Enqueueing from services: after the transaction commits, never inside it."""

from django.db import transaction


def enqueue_on_commit(task, **ids) -> None:
    """Send ``task`` with ``ids`` (as text) once the current transaction commits.

    robust: a broker outage must not undo committed work; the reconcilers and sweeps find
    anything whose message was lost.
    """
    kwargs = {name: str(value) for name, value in ids.items()}
    transaction.on_commit(lambda: task.delay(**kwargs), robust=True)
