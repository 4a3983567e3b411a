"""Workers keep their PostgreSQL connection between tasks (CONN_MAX_AGE with
CONN_HEALTH_CHECKS), against a private PostgreSQL server and real prefork workers:

- reuse: a pool runs many tasks on at most one server session per child;
- a restart: after `pg_ctl restart -m fast` under a running worker, every task runs once, at
  its first attempt (the health check at its first query reconnects), nothing lands in
  FailedTask, the worker is not restarted, and reuse resumes;
- bounded: a connection older than CONN_MAX_AGE is closed and replaced at the next task;
- a task that fails leaves no connection behind (it may have been cut off mid-query).

Sessions are counted by the server itself (pg_stat_database.sessions, PostgreSQL 14+) and,
per task, by the backend that wrote the probe's row.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import NamedTuple

import psutil
import psycopg
import pytest
from django.conf import settings

from config import queues
from devstack.processes import WorkerProcess, wait_for
from tests.support import db_probes
from tests.support.postgres import LocalPostgres, PostgresMissing
from tests.support.workers import BACKOFF_SCALE, broker_holds

pytestmark = pytest.mark.slow  # a PostgreSQL server of its own and real workers

DATABASE = "conveyor"
POOL = 2
TASKS = 40
# The worker's main process connects only to record a failed task; allowed, never needed here.
MAIN_PROCESS = 1


class Run(NamedTuple):
    n: int
    attempt: int
    backend_pid: int
    backend_start: object


@pytest.fixture(scope="module")
def postgres():
    """A private PostgreSQL cluster for this module, stopped and deleted even on failure.

    Not under tmp_path: pytest keeps that private to its user, and as root the server runs
    as another one."""
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-test-pg-"))
    try:
        missing = server = None
        try:
            server = LocalPostgres(workdir)
        except PostgresMissing as error:
            missing = error
        if missing:  # fails, never skips: CI has PostgreSQL installed
            pytest.fail(f"this test needs a PostgreSQL server of its own: {missing}", pytrace=False)
        try:
            yield server.start()
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def worker_env(url: str, max_age: int) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE,
        "DATABASE_URL": url,
        "CONN_MAX_AGE": str(max_age),
        "TASK_BACKOFF_SCALE": str(BACKOFF_SCALE),
        "DJANGO_READ_DOT_ENV_FILE": "false",
    }


@pytest.fixture(scope="module")
def database(postgres) -> str:
    """The URL of a migrated database on the private server, with the probes' table."""
    postgres.create_database(DATABASE)
    url = postgres.url(DATABASE)
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=settings.BASE_DIR,
        env={**os.environ, **worker_env(url, 0)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    with postgres.connect(DATABASE) as conn:
        conn.execute(db_probes.CREATE_TABLE)
    return url


@pytest.fixture
def start_worker(database, tmp_path, empty_queues):
    """Starts real prefork workers on the private database; stops them after the test."""
    started: list[WorkerProcess] = []

    def start(*, concurrency: int, max_age: int) -> WorkerProcess:
        name = f"test-{uuid.uuid4().hex[:8]}@conveyor"
        worker = WorkerProcess(
            name,
            [queues.DEFAULT],
            tmp_path / f"{name}.log",
            concurrency=concurrency,
            include="tests.support.db_probes",
            env=worker_env(database, max_age),
        )
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()


def sessions(conn: psycopg.Connection) -> int:
    """Sessions the database has had since the cluster was made, as the server counts them."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT sessions FROM pg_stat_database WHERE datname = %s", [DATABASE]
    ).fetchone()
    return row[0]


def sessions_since(conn: psycopg.Connection, before: int, at_least: int) -> int:
    """New sessions since ``before``, once the counter shows the ``at_least`` the probes saw:
    a backend reports its session at its first idle moment, so the counter may lag a little."""
    wait_for(
        lambda: sessions(conn) - before >= at_least,
        timeout=30,
        what=f"pg_stat_database to count {at_least} new sessions",
    )
    return sessions(conn) - before


def runs(conn: psycopg.Connection, key: str, numbers) -> list[Run]:
    rows = conn.execute(
        f"SELECT n, attempt, backend_pid, backend_start FROM {db_probes.TABLE}"  # noqa: S608
        " WHERE key = %s AND n = ANY(%s) ORDER BY n",
        [key, list(numbers)],
    ).fetchall()
    return [Run(*row) for row in rows]


def run_all(conn: psycopg.Connection, redis_client, key: str, numbers) -> list[Run]:
    """Sends a probe per number and returns the rows they wrote, once none is pending."""
    numbers = list(numbers)
    ids = [db_probes.touch.delay(key, n).id for n in numbers]
    wait_for(
        lambda: len(runs(conn, key, numbers)) >= len(numbers),
        timeout=90,
        what=f"{len(numbers)} probes to write their rows",
    )
    # Acknowledged late, each after its row committed: once the broker holds none of them,
    # no run is still to come, and the rows are the final count.
    wait_for(
        lambda: not any(broker_holds(redis_client, task_id) for task_id in ids),
        timeout=30,
        what="the broker to hold none of the probes",
    )
    return runs(conn, key, numbers)


def assert_each_ran_once_at_first_attempt(batch: list[Run], numbers) -> None:
    assert [r.n for r in batch] == list(numbers), "a probe ran twice, or never"
    # A failed attempt would be retried (OperationalError is transient) and still write its
    # row: only the attempt number shows that a dead connection broke a task first.
    retried = {r.n: r.attempt for r in batch if r.attempt != 1}
    assert not retried, f"probes that needed more than one attempt (n: attempt): {retried}"


def backends(batch: list[Run]) -> set[tuple]:
    """The server sessions that wrote ``batch`` (pid and start: pids are reused)."""
    return {(r.backend_pid, r.backend_start) for r in batch}


def failed_tasks(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM ops_failedtask").fetchone()[0]


def pool_pids(worker: WorkerProcess) -> set[int]:
    return {child.pid for child in psutil.Process(worker.process.pid).children()}


def assert_reused(conn: psycopg.Connection, batch: list[Run], before: int) -> None:
    used = backends(batch)
    grew = sessions_since(conn, before, len(used))
    reused = len(used) <= POOL and grew <= POOL + MAIN_PROCESS
    assert reused, (
        f"{len(batch)} tasks on a pool of {POOL} ran on {len(used)} server sessions and the "
        f"database counted {grew} new sessions: connections are not reused between tasks"
    )


def test_a_pool_reuses_its_connections_across_tasks(postgres, start_worker, redis_client, key):
    start_worker(concurrency=POOL, max_age=60)
    with postgres.connect(DATABASE) as conn:
        before = sessions(conn)
        batch = run_all(conn, redis_client, key, range(TASKS))
        assert_each_ran_once_at_first_attempt(batch, range(TASKS))
        assert failed_tasks(conn) == 0
        assert_reused(conn, batch, before)


def test_after_a_postgres_restart_every_task_runs_once_and_reconnects(
    postgres, start_worker, redis_client, key
):
    worker = start_worker(concurrency=POOL, max_age=60)
    with postgres.connect(DATABASE) as conn:
        warm = run_all(conn, redis_client, key, range(TASKS))
        assert_each_ran_once_at_first_attempt(warm, range(TASKS))
    pool = pool_pids(worker)

    # Terminates every session, the pool's idle ones too; the worker is not told.
    postgres.restart()

    after = range(TASKS, 2 * TASKS)
    with postgres.connect(DATABASE) as conn:
        before = sessions(conn)
        batch = run_all(conn, redis_client, key, after)
        # At the first attempt: the health check replaced the dead connection, not a retry.
        assert_each_ran_once_at_first_attempt(batch, after)
        assert failed_tasks(conn) == 0
        assert worker.process.poll() is None and pool_pids(worker) == pool
        assert_reused(conn, batch, before)


def test_a_connection_older_than_conn_max_age_is_replaced_at_the_next_task(
    postgres, start_worker, redis_client, key
):
    max_age = 1
    # One child: a second session can only mean the first one was dropped.
    start_worker(concurrency=1, max_age=max_age)
    with postgres.connect(DATABASE) as conn:
        before = sessions(conn)
        [first] = run_all(conn, redis_client, key, [0])
        # Django measures the age from the connect, on the worker's clock, and looks at it
        # only when a task starts or ends: there is nothing to poll, the age must pass.
        time.sleep(max_age + 0.5)
        [second] = run_all(conn, redis_client, key, [1])

        assert backends([second]) != backends([first]), (
            f"a session older than CONN_MAX_AGE ({max_age} s) served the next task"
        )
        wait_for(
            lambda: (
                not conn.execute(
                    "SELECT 1 FROM pg_stat_activity WHERE pid = %s", [first.backend_pid]
                ).fetchone()
            ),
            timeout=10,
            what="the expired session to end",
        )
        assert sessions_since(conn, before, 2) <= 2 + MAIN_PROCESS


def test_a_task_that_fails_does_not_hand_its_connection_to_the_next(
    postgres, start_worker, redis_client, key
):
    # One child: the next task runs where the failed one ran.
    start_worker(concurrency=1, max_age=60)
    with postgres.connect(DATABASE) as conn:
        failed_before = failed_tasks(conn)
        db_probes.touch_then_fail.delay(key, 0)
        wait_for(
            lambda: failed_tasks(conn) > failed_before,
            timeout=60,
            what="the failing probe to be recorded as failed",
        )
        [failed] = runs(conn, key, [0])
        [after] = run_all(conn, redis_client, key, [1])
        assert backends([after]) != backends([failed]), (
            "the task after a failed one ran on the failed task's connection"
        )
