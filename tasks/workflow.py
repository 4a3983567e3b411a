"""Workflows on the shared Task class (README, "Workflows"), declared on the task, each off
unless set:
- ``unique_for = s``: a second enqueue with the same ``unique_key`` while one is waiting or
  running is dropped and logged (Laravel's ShouldBeUnique); the lock is freed when the job ends.
- ``without_overlapping = "name {kwarg}"``: a run that finds the lock held is released for
  ``overlap_release`` s (or, with ``overlap = "skip"``, skipped), not failed. Freed when the run
  ends; a holder that died frees it by its TTL (the hard limit and a margin).
- A delay too long for a broker message is held in the database (apps/ops/delays.py).
- A job of a batch (apps/ops/batches.py) skips itself once its batch is cancelled, and its
  final outcome is counted in the batch.
The lock tokens travel in the UNIQUE and OVERLAP headers through retries, releases and
continuations, so a continued job holds its locks to its end.
"""

import hashlib
import inspect
import json
import logging
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, InterfaceError, transaction
from django.utils import timezone

from apps.common import redis_client
from apps.common.errors import TransientError
from apps.ops import batches, locks
from apps.ops.delays import DELAYED, delay_hold, delayed_job_start

log = logging.getLogger("conveyor.tasks")

DB_ERRORS = (DatabaseError, InterfaceError)

UNIQUE = "unique"
OVERLAP = "overlap"
UNCOMMITTED_LOCK_TTL = 60  # s a unique lock lasts until its held delay commits
# The state a job ran to when its end could not be counted: its retry counts it, and only that.
ENDED = "ended"


class Workflows:
    """The workflow half of the shared Task class: mixed in before Celery's Task."""

    unique_for: float | None = None
    without_overlapping: str | None = None
    overlap: str = "release"  # or "skip"
    overlap_release: float = 10.0
    overlap_margin: float = 30.0  # s the lock outlives the hard limit: its TTL if the holder dies

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        """Celery's, except that a unique task that is waiting or running already is not sent
        again (the result of the one that is), and a delay too long for a broker message is
        held in the database (apps/ops/delays.py)."""
        if not self.unique_for:
            return self._send(args, kwargs, task_id, options)
        headers = options.pop("headers", None) or {}
        task_id = task_id or str(uuid.uuid4())
        token = headers.get(UNIQUE) or task_id  # a retry, release or continuation: ours
        name = self.unique_lock(args or (), kwargs or {})
        # A held delay is a row of the caller's transaction: until it commits the lock is taken
        # for a short while only, so a rollback cannot leave it held with nothing to run.
        uncommitted = _held(options) and transaction.get_connection().in_atomic_block
        ttl = min(self.unique_for, UNCOMMITTED_LOCK_TTL) if uncommitted else self.unique_for
        try:
            held = locks.take(name, token, ttl)
        except redis_client.REDIS_ERRORS as exc:
            raise TransientError(f"unique lock not taken: {exc}") from exc
        if held != token:
            log.info("task.unique_dropped name=%s lock=%s held_by=%s", self.name, name, held)
            return self.AsyncResult(held)
        options = {**options, "headers": {**headers, UNIQUE: token}}
        result = self._send(args, kwargs, task_id, options)
        if uncommitted:
            transaction.on_commit(lambda: _quietly(locks.take, name, token, self.unique_for))
        return result

    def _send(self, args, kwargs, task_id, options: dict):
        if not _held(options):
            return super().apply_async(args, kwargs, task_id=task_id, **options)
        wait = _delay_of(options)
        kept = {k: v for k, v in options.items() if k in ("queue", "headers", "priority")}
        due_at = timezone.now() + timedelta(seconds=wait)
        job = delay_hold(
            task_name=self.name,
            args=args,
            kwargs=kwargs,
            due_at=due_at,
            options={**kept, "task_id": task_id},
        )
        return self.AsyncResult(job.task_id)

    def unique_key(self, args: tuple, kwargs: dict) -> str:
        """What makes two enqueues the same job: by default, the same arguments (by name,
        however they were passed)."""
        return json.dumps(self.arguments(args, kwargs), sort_keys=True, default=str)

    def arguments(self, args: tuple, kwargs: dict) -> dict:
        """The call's arguments by name, defaults included."""
        bound = inspect.signature(self.run).bind_partial(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    def unique_lock(self, args: tuple, kwargs: dict) -> str:
        key = hashlib.sha1(self.unique_key(args, kwargs).encode()).hexdigest()  # noqa: S324
        return f"unique:{self.name}:{key}"

    def overlap_lock(self, args: tuple, kwargs: dict) -> str | None:
        if not self.without_overlapping:
            return None
        return f"overlap:{self.without_overlapping.format(**self.arguments(args, kwargs))}"

    def _skipped(self, headers: dict, args: tuple, kwargs: dict) -> str | None:
        """Why this run is not to run at all, if it is not."""
        if (held := headers.get(DELAYED)) and not delayed_job_start(
            job_id=held, task_id=self.request.id
        ):
            return "superseded (a newer copy of this delayed job was published)"
        batch = headers.get(batches.BATCH)
        if batch and batches.batch_cancelled(batch):
            return "batch_cancelled"
        lock = self.overlap_lock(args, kwargs)
        if lock and self.overlap == "skip" and not self._take_overlap(lock, headers):
            return f"overlapping lock={lock}"
        return None

    def _run_holding(self, args: tuple, kwargs: dict):
        """Run under the overlap lock, if the task has one: freed when the run ends, unless the
        job continues in a new task, which carries it on."""
        lock = self.overlap_lock(args, kwargs)
        if lock is None:
            return self.run(*args, **kwargs)
        headers = self.request.headers or {}
        if not self._take_overlap(lock, headers):
            log.info("task.overlapping id=%s name=%s lock=%s", self.request.id, self.name, lock)
            self.release(scaled(self.overlap_release))
        try:
            return self.run(*args, **kwargs)
        finally:
            if not getattr(self.request, "continued", False):
                _quietly(locks.free, lock, overlap_token(self.request))

    def _take_overlap(self, lock: str, headers: dict) -> bool:
        ttl = (self.time_limit or self.policy.hard_limit) + self.overlap_margin
        try:
            return locks.take(lock, overlap_token(self.request), ttl) == overlap_token(self.request)
        except redis_client.REDIS_ERRORS as exc:
            raise TransientError(f"overlap lock not taken: {exc}") from exc

    def _ended_counted(self, headers: dict, args: tuple, kwargs: dict, state: str) -> None:
        """_ended; if the database did not answer, the job is retried to count its end only:
        its work is done and is not done again."""
        try:
            self._ended(headers, args, kwargs, state)
        except DB_ERRORS as exc:
            log.warning(
                "task.end_not_counted id=%s name=%s state=%s error=%s",
                self.request.id,
                self.name,
                state,
                exc,
            )
            countdown = self.retry_countdown(self.request.retries + 1)
            again = {**headers, ENDED: state}
            raise self.retry(exc=exc, countdown=countdown, headers=again) from exc

    def _ended(self, headers: dict, args: tuple, kwargs: dict, state: str) -> None:
        """The job has its final outcome: count it in its batch, free its locks."""
        if batch := headers.get(batches.BATCH):
            batches.batch_job_finished(batch, state=state)
        if self.unique_for and (token := headers.get(UNIQUE)):
            _quietly(locks.free, self.unique_lock(args, kwargs), token)
        if lock := self.overlap_lock(args, kwargs):
            _quietly(locks.free, lock, overlap_token(self.request))


def scaled(seconds: float) -> float:
    """Backoffs and releases, shortened in tests by TASK_BACKOFF_SCALE."""
    return seconds * settings.TASK_BACKOFF_SCALE


def _held(options: dict) -> bool:
    """Whether the send is a delay too long for a broker message, held in the database."""
    wait = _delay_of(options)
    return wait is not None and wait > settings.DELAY_ETA_MAX


def _delay_of(options: dict) -> float | None:
    """Seconds until a message sent with these options is due, if it is sent with a delay."""
    if options.get("countdown") is not None:
        return float(options["countdown"])
    eta = options.get("eta")
    if eta is None:
        return None
    if isinstance(eta, str):
        eta = datetime.fromisoformat(eta)
    if timezone.is_naive(eta):
        eta = timezone.make_aware(eta, UTC)
    return (eta - timezone.now()).total_seconds()


def overlap_token(request) -> str:
    """The overlap lock's owner: the job's first run, carried on by its continuations."""
    return (request.headers or {}).get(OVERLAP) or request.id


def _quietly(free, *args) -> None:
    """Free a lock; if Redis does not answer, its TTL frees it."""
    try:
        free(*args)
    except redis_client.REDIS_ERRORS:
        log.warning("task.lock_not_freed lock=%s", args[0], exc_info=True)
