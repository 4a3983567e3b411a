"""The ledger sweep: ledger rows move from one status to the next in chunks, and their sums
are credited to the wallets. Commission disbursement and earning maturation are both one.
Each chunk also records what it credited each member (tallies.py), for the digest each
member gets when the run finishes.

On PostgreSQL a chunk is one statement: a CTE picks the rows (FOR UPDATE SKIP LOCKED, so
overlapping runs take disjoint rows), its UPDATE ... RETURNING marks exactly those rows,
and the wallet upsert and the run's tally take exactly what was marked; two separate
UPDATEs would race under READ COMMITTED. SQLite has one writer at a time, and our
transactions take the write lock at BEGIN, so there the same chunk is four statements in
one transaction.
"""

import logging
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, models, transaction
from django.utils import timezone

from apps.common.money import cents
from apps.wallets.balances import wallets_upsert_sql
from apps.wallets.sql import SqlNames
from apps.wallets.tallies import chunk_tally_sql

log = logging.getLogger("conveyor.wallets")

# Each member's rows and total among those ``moved``: what the wallets and the tally take.
_SUMMED = (
    "SELECT member_id, COUNT(*) AS rows, ROUND(SUM(amount), 2) AS total FROM {moved} "
    "AS moved GROUP BY member_id"
)


@dataclass(frozen=True)
class LedgerSweep:
    """Rows of ``model`` in status ``source`` (and, with ``due``, whose ``due`` time has
    come) become ``target``, stamped in the ``stamp`` field; each ``member``'s sum of
    ``amount`` moves into the wallet as ``pending_sign`` x sum to pending and sum to
    withdrawable. Fields are named as in the model; the SQL takes their columns from it."""

    name: str
    model: type[models.Model]
    member: str
    source: str
    target: str
    stamp: str
    order_by: str
    pending_sign: int
    due: str = ""

    def _picked(self) -> str:
        t = SqlNames(self.model)
        due = f"AND {getattr(t, self.due)} <= %(now)s" if self.due else ""
        return (
            f"SELECT {t.pk} FROM {t.table} WHERE {t.status} = %(source)s {due} "
            f"ORDER BY {getattr(t, self.order_by)} LIMIT %(limit)s"
        )

    def _credits(self, summed: str) -> str:
        return wallets_upsert_sql(
            f"SELECT member_id, {self.pending_sign} * total, total, %(now)s "
            f"FROM {summed} AS summed WHERE true ORDER BY member_id"
        )

    def postgresql(self) -> str:
        t = SqlNames(self.model)
        member, stamp = getattr(t, self.member), getattr(t, self.stamp)
        return f"""
            WITH picked AS ({self._picked()} FOR UPDATE SKIP LOCKED),
            moved AS (
                UPDATE {t.table} AS t SET {t.status} = %(target)s, {stamp} = %(now)s
                FROM picked WHERE t.{t.pk} = picked.{t.pk} AND t.{t.status} = %(source)s
                RETURNING t.{member} AS member_id, t.{t.amount} AS amount
            ),
            summed AS ({_SUMMED.format(moved="moved")}),
            credited AS ({self._credits("summed")} RETURNING 1),
            tallied AS ({chunk_tally_sql("summed", vendor="postgresql")} RETURNING 1)
            SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM moved
        """

    def sqlite(self) -> list[str]:
        t = SqlNames(self.model)
        member, stamp = getattr(t, self.member), getattr(t, self.stamp)
        moved = (
            f"(SELECT {member} AS member_id, {t.amount} AS amount FROM {t.table} "
            f"WHERE {t.pk} IN ({self._picked()}))"
        )
        summed = f"({_SUMMED.format(moved=moved)})"
        return [
            f"SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM {moved}",
            self._credits(summed),
            chunk_tally_sql(summed, vendor="sqlite"),
            # Last: ``moved`` is the rows still in the source status.
            f"UPDATE {t.table} SET {t.status} = %(target)s, {stamp} = %(now)s "
            f"WHERE {t.pk} IN ({self._picked()})",
        ]

    def chunk(self, limit: int, *, run: str) -> tuple[int, Decimal]:
        """Move up to ``limit`` rows in one transaction, tallied under ``run``: (rows moved,
        their total)."""
        params = {"source": self.source, "target": self.target, "limit": limit}
        params.update(now=timezone.now(), sweep=self.name, run=run)
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(self.postgresql(), params)
                rows, total = cursor.fetchone()
            else:
                statements = self.sqlite()
                cursor.execute(statements[0], params)
                rows, total = cursor.fetchone()
                for statement in statements[1:]:
                    cursor.execute(statement, params)
        return rows, cents(total)


@dataclass
class LedgerSweepResult:
    run: str
    rows: int = 0
    total: Decimal = Decimal("0.00")
    chunks: int = 0
    finished: bool = False


def ledger_sweep_run(
    sweep: LedgerSweep, *, chunk_rows: int, budget_seconds: float, run: str | None = None
) -> LedgerSweepResult:
    """Chunks until nothing is left (finished) or the time budget is spent (not finished:
    the caller continues in a new task, under the same ``run``; without one, a run of its
    own). Each chunk commits alone, so a crash loses at most the chunk in flight, which
    rolls back and is taken by the next run."""
    result = LedgerSweepResult(run=run or uuid.uuid4().hex)
    deadline = time.monotonic() + budget_seconds
    while True:
        started = time.monotonic()
        rows, total = sweep.chunk(chunk_rows, run=result.run)
        result.rows, result.total = result.rows + rows, result.total + total
        result.chunks += 1
        log.info(
            "%s.chunk rows=%s total=%s ms=%.0f",
            sweep.name,
            rows,
            total,
            (time.monotonic() - started) * 1000,
        )
        result.finished = rows < chunk_rows
        if result.finished or time.monotonic() > deadline:
            log.info(
                "%s.done run=%s rows=%s total=%s chunks=%s finished=%s",
                sweep.name,
                result.run,
                result.rows,
                result.total,
                result.chunks,
                result.finished,
            )
            return result
