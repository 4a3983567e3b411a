"""Tasks that touch the worker's PostgreSQL database (-I tests.support.db_probes), for the
tests of how workers hold their connections. They route to the default queue.

Each writes one row into TABLE, naming the attempt and the server session (backend pid and
start time) that wrote it, so a test can count runs and connections from the database alone.
"""

from config.celery import app

TABLE = "db_probe_touch"

# Created by the test on its own database, not by a migration: no project model needs it.
CREATE_TABLE = f"""
CREATE TABLE {TABLE} (
    key text NOT NULL,
    n integer NOT NULL,
    attempt integer NOT NULL,
    backend_pid integer NOT NULL,
    backend_start timestamptz NOT NULL
)
"""


@app.task(bind=True)
def touch(self, key: str, n: int) -> None:
    """Writes row ``n`` of ``key`` in a transaction through Django's connection, as a
    service would."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (key, n, attempt, backend_pid, backend_start)"  # noqa: S608
            " SELECT %s, %s, %s, pid, backend_start FROM pg_stat_activity"
            " WHERE pid = pg_backend_pid()",
            [key, n, self.request.retries + 1],
        )


@app.task(bind=True)
def touch_then_fail(self, key: str, n: int) -> None:
    """Writes its row, then fails for good (a ValueError is not transient)."""
    touch.run(key, n)
    raise ValueError(f"probe {key}/{n} fails after writing")
