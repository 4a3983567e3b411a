"""Faults of the outside world for tests: the broker away."""

import contextlib
from pathlib import Path

from config.celery import app
from devstack.processes import LocalRedis


@contextlib.contextmanager
def broker_away(workdir: Path):
    """Publishing goes to a broker that does not answer (a Redis server started, then
    stopped: its port refuses), until the block ends."""
    gone = LocalRedis(workdir).start()
    gone.stop()
    saved = app.conf.broker_url
    app.conf.broker_url = gone.url
    app._after_fork()  # drop the pooled connections to the real broker
    try:
        yield
    finally:
        app.conf.broker_url = saved
        app._after_fork()
