"""The no-op tasks the queue-overhead benchmark drains (the worker runs with -I bench.tasks).

Both route to the default queue; the last of a batch pushes to ``done_key`` so the
benchmark knows the batch is drained.
"""

import os
from functools import cache

import redis
from celery import Task as BareTask

from config.celery import app


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


def _finish(done_key: str | None) -> None:
    if done_key:
        _redis().rpush(done_key, 1)


@app.task(name="bench.tasks.noop_project")
def noop_project(done_key: str | None = None) -> None:
    """A no-op under the project's Task class (policy, logging, failure recording)."""
    _finish(done_key)


@app.task(name="bench.tasks.noop_write")
def noop_write(batch_id: str, done_key: str | None = None) -> None:
    """The no-op with one autocommitted UPDATE of one row every job shares: the least a job
    that counts its end in the database can cost, the floor under batch bookkeeping."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE ops_batch SET pending = pending WHERE id = %s", [batch_id])
    _finish(done_key)


@app.task(name="bench.tasks.noop_unlogged", run_log=False)
def noop_unlogged(done_key: str | None = None) -> None:
    """The same no-op under the project's Task class, without the run log: what it costs."""
    _finish(done_key)


@app.task(name="bench.tasks.noop_bare", base=BareTask)
def noop_bare(done_key: str | None = None) -> None:
    """The same no-op under Celery's plain Task class."""
    _finish(done_key)
