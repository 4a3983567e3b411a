"""Tasks the tests send through real workers (-I tests.support.probes). They run under the
project's Task class and, by config/settings/test.py, route to the payments queue.

Each reports what happened to it in Redis under a key the test chose.
"""

import json
import os
import signal
import time

import redis
from celery.exceptions import SoftTimeLimitExceeded

from apps.common.bucket import Pace
from apps.common.errors import TransientError
from config.celery import app


def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


@app.task(bind=True)
def record(self, key: str) -> None:
    """Appends which queue and worker ran it, and when it was published."""
    _redis().rpush(
        key,
        json.dumps(
            {
                "queue": self.request.delivery_info.get("routing_key"),
                "hostname": self.request.hostname,
                "published_at": getattr(self.request, "published_at", None),
            }
        ),
    )


@app.task(bind=True)
def fail(self, key: str, transient: bool = True) -> None:
    """Fails until ``key:heal`` exists; appends the time of every attempt."""
    r = _redis()
    r.rpush(f"{key}:attempts", time.time())
    if r.exists(f"{key}:heal"):
        r.rpush(f"{key}:done", self.request.delivery_info.get("routing_key"))
        return
    raise (TransientError if transient else ValueError)(f"probe {key} fails")


@app.task
def block(key: str) -> None:
    """Counts its starts, publishes its pid, and completes only once ``key:release`` exists."""
    r = _redis()
    r.incr(f"{key}:started")
    r.set(f"{key}:pid", os.getpid())
    deadline = time.monotonic() + 60
    while not r.exists(f"{key}:release"):
        if time.monotonic() > deadline:
            raise RuntimeError("never released")
        time.sleep(0.05)
    r.incr(f"{key}:completed")


@app.task(time_limit=2, soft_time_limit=1)
def overrun(key: str) -> None:
    """Ignores its soft limit and would run 30 s: only the hard limit stops it."""
    r = _redis()
    r.incr(f"{key}:started")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            time.sleep(0.1)
        except SoftTimeLimitExceeded:
            r.incr(f"{key}:soft")
    r.incr(f"{key}:completed")


@app.task
def crash(key: str) -> None:
    """Kills its own worker child every time it runs."""
    _redis().incr(f"{key}:started")
    os.kill(os.getpid(), signal.SIGKILL)


@app.task(bind=True)
def sleepy(self, key: str, n: int, seconds: float) -> None:
    """Runs ``seconds``, then appends ``n`` to ``key``: a task in flight for that long."""
    time.sleep(seconds)
    _redis().rpush(key, n)


@app.task(bind=True)
def paced(self, key: str, rate: str, burst: int = 1) -> None:
    """Counts its runs in ``key:runs``, paces on bucket ``key``, and once let through appends
    the Redis time it was let through, its id, its retries and its releases to ``key``."""
    r = _redis()
    r.incr(f"{key}:runs")
    grant = self.pace(key, Pace.parse(rate, burst=burst))
    r.rpush(
        key,
        json.dumps(
            {
                "at": grant.now,
                "id": self.request.id,
                "retries": self.request.retries,
                "releases": (self.request.headers or {}).get("releases", 0),
            }
        ),
    )


@app.task(bind=True)
def batch_job(self, key: str, n: int, fail: bool = False) -> None:
    """A job of a batch: appends ``n`` to ``key:ran``; fails for good if ``fail`` and
    ``key:heal`` does not exist."""
    r = _redis()
    r.rpush(f"{key}:ran", n)
    if fail and not r.exists(f"{key}:heal"):
        raise ValueError(f"job {n} fails")


@app.task(bind=True)
def batch_job_losing_db(self, key: str, n: int) -> None:
    """A job of a batch that appends ``n`` to ``key:ran``, then loses its database connection
    (PostgreSQL ends its session), so counting its end fails."""
    from django.db import DatabaseError, connection

    _redis().rpush(f"{key}:ran", n)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    except DatabaseError:
        pass  # the session ended under the statement: what this probe is for


@app.task(bind=True)
def batch_gate(self, key: str, n: int) -> None:
    """A job of a batch that waits for ``key:go`` (at most 30 s), then appends ``n``."""
    r = _redis()
    r.incr(f"{key}:started")
    deadline = time.monotonic() + 30
    while not r.exists(f"{key}:go") and time.monotonic() < deadline:
        time.sleep(0.01)
    r.rpush(f"{key}:ran", n)


@app.task
def callback(
    key: str, which: str, batch: str = "", failed_task_id: str = "", fail: bool = False
) -> None:
    """A batch's or a chain's callback: appends ``batch`` or ``failed_task_id`` to
    ``key:<which>``; fails for good if ``fail`` and ``key:heal`` does not exist."""
    r = _redis()
    r.rpush(f"{key}:{which}", batch or failed_task_id)
    if fail and not r.exists(f"{key}:heal"):
        raise ValueError(f"callback {which} fails")


@app.task(bind=True, unique_for=30)
def unique_block(self, key: str) -> None:
    """Unique per ``key``: counts its runs and blocks until ``key:release`` (at most 30 s)."""
    r = _redis()
    r.incr(f"{key}:started")
    deadline = time.monotonic() + 30
    while not r.exists(f"{key}:release") and time.monotonic() < deadline:
        time.sleep(0.05)


@app.task(
    bind=True, without_overlapping="probe {key}", time_limit=6, soft_time_limit=5, overlap_margin=1
)
def overlapping(self, key: str, hold: float = 0.0) -> None:
    """Never two at once per ``key``: records when it ran and as which attempt and release,
    after holding the lock ``hold`` s (it sleeps on when ``key:pid`` is read: kill it)."""
    r = _redis()
    r.set(f"{key}:pid", os.getpid())
    started = time.time()
    time.sleep(hold)
    headers = self.request.headers or {}
    record = {"id": self.request.id, "start": started, "end": time.time()}
    record |= {"retries": self.request.retries, "releases": headers.get("releases", 0)}
    r.rpush(key, json.dumps(record))


@app.task(bind=True, attempts=5, max_exceptions=2)
def exceptional(self, key: str) -> None:
    """Always raises a transient error: max_exceptions (2) ends it before its 5 attempts."""
    _redis().rpush(f"{key}:attempts", time.time())
    raise TransientError(f"probe {key} raises")


@app.task(bind=True)
def stamped(self, key: str) -> None:
    """Appends when it ran and as which task id."""
    _redis().rpush(key, json.dumps({"at": time.time(), "id": self.request.id}))


@app.task(bind=True)
def link(self, key: str, n: int, fail: bool = False) -> None:
    """A link of a chain: appends ``n`` to ``key``; fails for good if ``fail`` and ``key:heal``
    does not exist."""
    r = _redis()
    if fail and not r.exists(f"{key}:heal"):
        raise ValueError(f"link {n} fails")
    r.rpush(key, n)


@app.task(bind=True)
def long_link(self, key: str, n: int, left: int = 2) -> None:
    """A link that continues in new tasks ``left`` times before it appends ``n`` to ``key``."""
    if left:
        self.continue_with({"key": key, "n": n, "left": left - 1})
        return
    _redis().rpush(key, n)


@app.task(bind=True)
def listener(self, event_id: str, payload: dict | None = None) -> None:
    """A queued listener: appends the event id and its own task id to ``listener:<event>``."""
    _redis().rpush(f"listener:{event_id}", self.request.id)


@app.task
def failing_listener(event_id: str, payload: dict | None = None) -> None:
    """A queued listener that fails for good."""
    raise ValueError(f"listener of {event_id} fails")


@app.task(bind=True, attempts=5)
def flaky(self, key: str, payment_id: str = "", failures: int = 2) -> None:
    """Fails with a transient error on its first ``failures`` attempts, then appends its
    attempt to ``key``: a job that succeeds on attempt ``failures + 1`` of 5."""
    if self.request.retries < failures:
        raise TransientError(f"probe {key} attempt {self.request.retries + 1} fails")
    _redis().rpush(key, self.request.retries + 1)


@app.task(bind=True)
def touch(self, key: str, payment_id: str = "", fail: bool = False) -> None:
    """Appends its queue to ``key``; fails for good if ``fail``. Tagged by its payment."""
    _redis().rpush(key, self.request.delivery_info.get("routing_key") or "")
    if fail:
        raise ValueError(f"probe {key} fails for good")


@app.task(run_log=False)
def unlogged(payment_id: str = "") -> None:
    """Does nothing, and is left out of the run log."""
