"""Chains with a catch (Laravel's Bus::chain([...])->catch()), on Celery's canvas.

    chain_dispatch(first.si(id=1), second.si(id=1), catch=tidy.si(id=1))

Celery carries the rest of a chain in each message and sends the next link when a link
succeeds. What Celery does not do on Redis, FailedTask does: a link that fails for good is
recorded with the rest of its chain and its catch (FailedTask.workflow), the catch is sent
once, with ``failed_task_id=<the link's task id>``, and ``queue_retry`` sends the link again
with the rest of the chain, which continues from there when it succeeds. A link that continues
in a new task (``continue_with``) hands the rest of the chain to its continuation.
"""

import logging

from celery import chain, signature
from django.db import transaction

from apps.ops.batches import callback_check
from config.celery import app

log = logging.getLogger("conveyor.chains")

CATCH = "chain_catch"  # the header: the catch's signature
REST = "chain"  # in FailedTask.workflow: the links still to run, as Celery keeps them


def chain_dispatch(*links, catch=None):
    """Send the links as a chain once the transaction commits; ``catch`` runs if one fails."""
    links = [signature(link).clone() for link in links]
    if catch is not None:
        callback_check(catch, passes="failed_task_id")
        for link in links:
            link.set(headers={**link.options.get("headers", {}), CATCH: dict(catch)})
    transaction.on_commit(lambda: chain(*links).apply_async())


def chain_catch_send(workflow: dict, *, failed_task_id: str) -> None:
    """Send the chain's catch for a link that failed for good (once per failure record)."""
    if CATCH not in workflow:
        return
    sig = signature(workflow[CATCH], app=app)
    sig = sig.replace(kwargs={**sig.kwargs, "failed_task_id": failed_task_id})
    sig.apply_async(task_id=f"{failed_task_id}-catch")
    log.info("chain.catch_sent failed_task_id=%s task=%s", failed_task_id, sig.task)


def retry_options(workflow: dict) -> dict:
    """The publish options that carry a retried task's workflow on."""
    headers = {name: value for name, value in workflow.items() if name != REST}
    return {"headers": headers, "chain": workflow.get(REST)}
