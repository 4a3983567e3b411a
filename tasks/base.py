"""The shared Task class: every task runs under the policy of the queue it routes to.

From config/queues.py it takes the soft and hard time limits, the attempts and the
backoff schedule (stretched by up to BACKOFF_JITTER). Only errors marked transient are
retried; anything else fails at once. A task may narrow its policy by setting
``time_limit``, ``soft_time_limit``, ``attempts``, ``backoff`` or ``transient_errors``.

A failure that is final lands in ops.FailedTask, whichever process sees it:
- the pool child, for a permanent error or a transient one on its last attempt;
- the worker's main process, for the hard time limit (the child is killed; the
  message is acknowledged, so the task is recorded, not rerun: a task that ran past
  its hard limit once will likely do so again, holding a pool slot each time);
- the worker's main process, for a child lost mid-task (SIGKILL, OOM): that costs
  one attempt and is retried like a transient error (Celery's retry_on_worker_lost),
  so a task that kills its worker every time ends here instead of looping.
All three arrive through Celery's task_failure signal, sent only once Celery has
decided not to retry or requeue.

A task may also be released: sent again, due later, with the same id, arguments and attempt,
its current message acknowledged (Laravel's release()). It is neither a failure nor a retry,
and holds no pool slot while it waits (the worker's main process keeps a message with an ETA).
``self.pace(key, pace)`` is how a task keeps to a provider's rate: it takes a token from the
shared bucket ``key`` (apps/common/bucket.py) and returns, waits in place for a slot due within
``pace_hold`` (1 s), or releases the task to come back when its reserved slot is due; the slot
travels in the PACE_SLOT header and RELEASES counts the releases. A bucket that cannot be
reached is a transient error.

Workflows (unique, without overlapping, long delays, batches) are tasks/workflow.py's mixin.
``max_exceptions = n``: fail for good at the n-th exception even with attempts left; releases
never count, exceptions do, a lost worker counts as an attempt only. The batch, the chain's
catch, the tags and the exception count travel in headers through retries, releases and
continuations (``continue_with``), as the lock tokens do.
"""

import contextlib
import logging
import random
import time
from datetime import datetime
from typing import NoReturn

from celery import Task as CeleryTask
from celery.exceptions import (
    Ignore,
    Reject,
    Retry,
    SoftTimeLimitExceeded,
    TimeLimitExceeded,
    WorkerLostError,
)
from celery.signals import task_failure
from celery.worker.request import Request as CeleryRequest
from django.conf import settings
from django.db import InterfaceError, OperationalError

from apps.common import bucket, redis_client
from apps.common.errors import TransientError
from apps.ops import batches, chains
from apps.ops.tags import HEADER as TAGS
from apps.ops.tags import run_tags
from config import queues
from config.celery import PUBLISHED_AT
from tasks.workflow import ENDED, OVERLAP, UNIQUE, Workflows, overlap_token, scaled

log = logging.getLogger("conveyor.tasks")

# Raised by Celery itself to retry, drop or requeue: never a failure of ours.
CONTROL_FLOW = (Retry, Ignore, Reject)

# Headers of a released message: how often it was released, and the bucket slot it holds.
RELEASES = "releases"
PACE_SLOT = "pace_slot"
# The exceptions so far (max_exceptions).
EXCEPTIONS = "exceptions"
# What a continuation carries on, and what a failed task keeps for its retry.
CARRIED = (UNIQUE, OVERLAP, batches.BATCH, chains.CATCH, TAGS)
KEPT = (batches.BATCH, chains.CATCH, TAGS, ENDED)

DEFAULT_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    SoftTimeLimitExceeded,  # slow this time; the hard limit is what gives up
    OperationalError,  # database connection lost, deadlock, serialization failure
    InterfaceError,
)


class Request(CeleryRequest):
    """Makes the task's request visible to failure hooks when the hard limit fires."""

    def on_timeout(self, soft: bool, timeout: float) -> None:
        self.task.request_stack.push(self._context)
        try:
            super().on_timeout(soft, timeout)
        finally:
            self.task.request_stack.pop()


class Task(Workflows, CeleryTask):
    Request = Request

    transient_errors: tuple[type[BaseException], ...] = DEFAULT_TRANSIENT_ERRORS
    # s: a pace slot due within this is waited for in place. A release is published behind the
    # queue's backlog, so a backlog of released tasks comes back late for its slots and wastes
    # them (measured: 0.88 of the rate at 50/s from 500 queued); a short sleep does not.
    pace_hold: float = 1.0
    # Filled from the queue table in on_bound unless the task sets them.
    policy: queues.QueuePolicy | None = None
    attempts: int | None = None
    backoff: tuple[int, ...] | None = None
    max_exceptions: int | None = None
    run_log: bool = True  # each run in the run log (apps/ops/runs.py)

    @classmethod
    def on_bound(cls, app) -> None:
        if not cls.name or cls.name.startswith("celery."):
            return  # Celery's own tasks keep Celery's defaults
        cls.policy = queues.policy(app.amqp.router.route({}, cls.name)["queue"].name)
        cls.attempts = cls.attempts or cls.policy.attempts
        cls.backoff = cls.backoff or cls.policy.backoff
        cls.max_retries = cls.attempts - 1
        if cls.time_limit is None:
            cls.time_limit = cls.policy.hard_limit
        if cls.soft_time_limit is None:
            cls.soft_time_limit = cls.policy.soft_limit
        # Celery waits this long before rerunning a task whose worker child was lost.
        cls.default_retry_delay = scaled(cls.backoff[0])

    def retry_countdown(self, retry: int) -> float:
        """Seconds before retry number ``retry`` (1-based): the schedule plus jitter."""
        base = scaled(queues.backoff_delay(self.backoff, retry))
        return base * (1 + random.uniform(0, queues.BACKOFF_JITTER))  # noqa: S311

    def __call__(self, *args, **kwargs):
        # The worker calls this with the request already pushed; calling run() directly
        # (not super().__call__) keeps that request, as Celery's docs advise.
        request = self.request
        attempt = request.retries + 1
        fields = (
            f"id={request.id} name={self.name} queue={queue_of(self)} "
            f"attempt={attempt}/{self.attempts}"
        )
        if tags := run_tags(kwargs, request.headers):
            fields += f" tags={','.join(tags)}"
        log.debug("task.start %s", fields)  # at INFO, task.finish (or .retry, .failed) says it
        started = time.monotonic()
        wait = _waited(request)
        headers = request.headers or {}
        try:
            if ended := headers.get(ENDED):  # it ran; what is left is to count its end
                self._ended_counted(headers, args, kwargs, ended)
                log.info("task.end_counted %s state=%s", fields, ended)
                self._observe(ended, _ms_since(started), wait)
                return None
            skipped = self._skipped(headers, args, kwargs)
            if skipped:
                log.info("task.skipped %s reason=%s", fields, skipped)
                self._ended_counted(headers, args, kwargs, batches.State.SKIPPED)
                self._observe("skipped", _ms_since(started), wait)
                return None
            result = self._run_holding(args, kwargs)
            if not getattr(request, "continued", False):
                self._ended_counted(headers, args, kwargs, batches.State.SUCCEEDED)
        except CONTROL_FLOW:
            raise
        except self.transient_errors as exc:
            took = _ms_since(started)
            exceptions = int(headers.get(EXCEPTIONS) or 0) + 1
            if attempt < self.attempts and exceptions < (self.max_exceptions or self.attempts + 1):
                self._observe("retried", took, wait, _describe(exc))
                countdown = self.retry_countdown(attempt)
                log.warning(
                    "task.retry %s duration_ms=%.1f countdown=%.2f error=%s",
                    fields,
                    took,
                    countdown,
                    _describe(exc),
                )
                again = {**headers, EXCEPTIONS: exceptions}
                raise self.retry(exc=exc, countdown=countdown, headers=again) from exc
            log.error(
                "task.failed %s duration_ms=%.1f reason=exhausted error=%s",
                fields,
                took,
                _describe(exc),
            )
            self._observe(None, took, wait)  # counted as failed where it is recorded
            raise
        except Exception as exc:
            took = _ms_since(started)
            error = _describe(exc)
            log.error("task.failed %s duration_ms=%.1f reason=error error=%s", fields, took, error)
            self._observe(None, took, wait)
            raise
        took = _ms_since(started)
        log.info("task.finish %s duration_ms=%.1f", fields, took)
        self._observe("succeeded", took, wait)
        return result

    def _observe(
        self, outcome: str | None, took_ms: float | None, wait: float | None, error: str = ""
    ) -> None:
        from apps.ops import metrics, observe, runs

        runtime = None if took_ms is None else took_ms / 1000
        queue = queue_of(self)
        seen = metrics.metric_writes(
            queue=queue, task=self.name, outcome=outcome, runtime=runtime, wait=wait
        )
        run = None
        if self.run_log:
            run = runs.run_of(
                self.request,
                task=self.name,
                queue=queue,
                attempts=self.attempts,
                outcome=outcome,
                runtime=runtime,
                wait=wait,
                error=error,
            )
        request = self.request
        if request.called_directly or request.is_eager:
            observe.record(metrics=seen, run=run)
        else:  # in a worker: sent with others, off the task's path
            observe.record_soon(metrics=seen, run=run)

    def budget(self) -> float:
        """Seconds a long job may work before it hands the rest to a new task: a share of
        the soft limit, so no chunk is cut off by it (DESIGN.md: no task runs long)."""
        return self.soft_time_limit * settings.TASK_BUDGET_SHARE

    def continue_with(self, remaining: dict | None) -> None:
        """Long work continues one way: the service does a bounded amount of work and returns
        what is left (the keyword arguments of the next run), or None when it is done; the
        task sends the rest as a new message, so no run outlives its queue's limits."""
        if remaining is not None:
            request = self.request
            carried = {name: (request.headers or {}).get(name) for name in CARRIED}
            carried[OVERLAP] = overlap_token(request)
            request.continued = True  # its locks and its batch pass to the continuation
            rest, request.chain = request.chain, None  # and the rest of its chain
            self.apply_async(
                kwargs=remaining,
                headers={k: v for k, v in carried.items() if v is not None},
                chain=rest,
            )

    def release(self, countdown: float, **headers) -> NoReturn:
        """Send this message again, due in ``countdown`` seconds, and end this run: same id,
        arguments and attempt. ``headers`` join the message's own (None removes one). Raises
        Ignore, on which the worker acknowledges the current message."""
        request = self.request
        if request.called_directly or request.is_eager:
            raise RuntimeError(f"{self.name}: only a worker can release a task")
        carried = {**(request.headers or {}), **headers}
        carried[RELEASES] = int(carried.get(RELEASES) or 0) + 1
        again = self.signature_from_request(
            request,
            countdown=countdown,
            retries=request.retries,  # the attempt is not spent
            headers={name: value for name, value in carried.items() if value is not None},
        )
        try:
            again.apply_async()
        except redis_client.REDIS_ERRORS as exc:
            raise TransientError(f"release not sent: {exc}") from exc
        log.info(
            "task.released id=%s name=%s queue=%s attempt=%d/%d releases=%d countdown=%.3f",
            request.id,
            self.name,
            queue_of(self),
            request.retries + 1,
            self.attempts,
            carried[RELEASES],
            countdown,
        )
        self._observe("released", None, _waited(request))
        raise Ignore()

    def pace(self, key: str, pace: bucket.Pace) -> bucket.Grant:
        """Return once this task may make the call bucket ``key`` paces (the grant it goes on);
        else release it to come back when the slot reserved for it is due."""
        request = self.request
        held = (request.headers or {}).get(PACE_SLOT) or {}
        grant = bucket.take(key, pace, slot=held.get("at") if held.get("key") == key else None)
        in_place = request.called_directly or request.is_eager  # no queue to wait in
        while not grant.go and (
            in_place or (grant.slot is not None and grant.wait <= self.pace_hold)
        ):
            time.sleep(grant.wait)
            grant = bucket.take(key, pace, slot=grant.slot)
        if not grant.go:
            slot = None if grant.slot is None else {"key": key, "at": grant.slot}
            self.release(grant.wait, **{PACE_SLOT: slot})
        return grant

    def final_failure(self, exc: BaseException, args: tuple, kwargs: dict) -> None:
        """Called once a failure is final and recorded; a task passes ``final_failure=`` to
        mark its domain row (HackSoft's ``on_failure`` service). Runs in the worker."""

    def failure_reason(self, exc: BaseException) -> str:
        from apps.ops.models import FailedTask

        if isinstance(exc, TimeLimitExceeded):
            return FailedTask.Reason.TIME_LIMIT
        if isinstance(exc, WorkerLostError):
            return FailedTask.Reason.WORKER_LOST
        if isinstance(exc, self.transient_errors):
            return FailedTask.Reason.EXHAUSTED
        return FailedTask.Reason.ERROR


@task_failure.connect
def record_final_failure(
    sender=None, task_id=None, exception=None, args=None, kwargs=None, einfo=None, **_
) -> None:
    """Write a task that failed for good to ops.FailedTask (see the module docstring)."""
    if not isinstance(sender, Task) or sender.policy is None:
        return
    from django.db import close_old_connections

    from apps.ops.services import failed_task_record

    # The worker's main process holds its connection between rare failures; drop it if stale.
    close_old_connections()

    request = sender.request
    headers = request.headers or {}
    row, first = failed_task_record(
        task_id=task_id,
        task_name=sender.name,
        queue=queue_of(sender),
        args=list(args or ()),
        kwargs=dict(kwargs or {}),
        exception=exception,
        traceback=einfo.traceback if einfo is not None else "",
        attempts=request.retries + 1,
        reason=sender.failure_reason(exception),
        hostname=request.hostname or "",
        workflow=_workflow(request, headers),
    )
    # Whichever process saw the end: count it and free the locks (idempotent both).
    try:
        sender._ended(headers, tuple(args or ()), dict(kwargs or {}), batches.State.FAILED)
    except Exception:  # a failure hook must not fail; the log says what was not counted
        log.critical("task.end_not_counted id=%s name=%s", task_id, sender.name, exc_info=True)
    if first:
        sender._observe("failed", None, None, _describe(exception))
        sender.final_failure(exception, tuple(args or ()), dict(kwargs or {}))
        _alert_staff(sender, row, exception)
        try:
            chains.chain_catch_send(headers, failed_task_id=task_id)
        except redis_client.REDIS_ERRORS:
            log.critical("chain.catch_not_sent failed_task_id=%s", task_id, exc_info=True)


def _workflow(request, headers: dict) -> dict:
    """What a retry of this failed task must carry on: its batch, chain and chain's catch."""
    kept = {name: headers[name] for name in KEPT if name in headers}
    if request.chain:
        kept[chains.REST] = request.chain
    return kept


def _alert_staff(task: Task, row, exc: BaseException) -> None:
    """Mail staff about a task of FAILURE_ALERT_QUEUES that failed for good (seed teams' failed()
    hooks), at most once per task name per cool-down; never a reason for the hook to fail."""
    if row is None or queue_of(task) not in settings.FAILURE_ALERT_QUEUES:
        return
    from apps.notifications.services import task_failure_alert

    try:
        task_failure_alert(
            task=task.name,
            queue=queue_of(task),
            error=_describe(exc),
            attempts=row.attempts,
            reason=row.reason,
            failed_task_id=row.pk,
        )
    except Exception:
        log.exception("task.alert_failed name=%s", task.name)


def queue_of(task: Task) -> str:
    """The queue the current message came from, else the one the task routes to."""
    delivery = task.request.delivery_info or {}
    return delivery.get("routing_key") or task.policy.name


def _waited(request) -> float | None:
    """Seconds from publish (or the end of a retry's countdown) to start."""
    published = getattr(request, PUBLISHED_AT, None)
    if not isinstance(published, int | float):
        return None
    ready = published
    if request.eta:
        with contextlib.suppress(ValueError):  # an eta we cannot read: count from publish
            ready = max(published, datetime.fromisoformat(str(request.eta)).timestamp())
    return max(0.0, time.time() - ready)


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
