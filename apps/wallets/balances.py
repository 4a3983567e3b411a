"""Wallet balances moved by SQL, so that a balance and the ledger rows that explain it
change in one statement: never read-modify-write in Python, never one row at a time.

``wallet_add`` credits one member (a completion). ``sweep`` moves ledger rows from one
status to the next in chunks and credits their sums to the wallets: commission
disbursement and earning maturation are both a Sweep.

On PostgreSQL a chunk is one statement: a CTE picks the rows (FOR UPDATE SKIP LOCKED, so
overlapping runs take disjoint rows), its UPDATE ... RETURNING marks exactly those rows,
and the wallet upsert adds exactly what was marked; two separate UPDATEs would race under
READ COMMITTED. SQLite has one writer at a time, and our transactions take the write
lock at BEGIN, so there the same chunk is three statements in one transaction.
"""

import logging
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.common.money import cents

log = logging.getLogger("conveyor.wallets")

# Rounded to the cent in SQL: SQLite adds decimals as floats.
UPSERT = """
INSERT INTO wallets_wallet (member_id, pending, withdrawable, updated_at)
{rows}
ON CONFLICT (member_id) DO UPDATE SET
    pending = ROUND(wallets_wallet.pending + excluded.pending, 2),
    withdrawable = ROUND(wallets_wallet.withdrawable + excluded.withdrawable, 2),
    updated_at = excluded.updated_at
"""


def wallet_add(*, member_id: int, pending: Decimal = Decimal(0), withdrawable=Decimal(0)) -> None:
    """Add to a member's balances (negative to take away), creating the wallet if needed."""
    with connection.cursor() as cursor:
        cursor.execute(
            UPSERT.format(rows="VALUES (%s, %s, %s, %s)"),
            [member_id, pending, withdrawable, timezone.now()],
        )


@dataclass(frozen=True)
class Sweep:
    """Rows of ``table`` in status ``source`` (and matching ``due``) become ``target``,
    stamped in ``stamp``; each member's sum of ``amount`` moves into the wallet as
    ``pending_sign`` x sum to pending and sum to withdrawable."""

    name: str
    table: str
    member_column: str
    source: str
    target: str
    stamp: str
    order_by: str
    pending_sign: int
    due: str = ""  # extra SQL condition, with %(now)s

    def _picked(self) -> str:
        due = f"AND {self.due}" if self.due else ""
        return (
            f"SELECT id FROM {self.table} WHERE status = %(source)s {due} "
            f"ORDER BY {self.order_by} LIMIT %(limit)s"
        )

    def _credits(self, moved: str) -> str:
        return UPSERT.format(
            rows=(
                f"SELECT member_id, {self.pending_sign} * SUM(amount), SUM(amount), %(now)s "
                f"FROM {moved} WHERE true GROUP BY member_id ORDER BY member_id"
            )
        )

    def postgresql(self) -> str:
        return f"""
            WITH picked AS ({self._picked()} FOR UPDATE SKIP LOCKED),
            moved AS (
                UPDATE {self.table} AS t SET status = %(target)s, {self.stamp} = %(now)s
                FROM picked WHERE t.id = picked.id AND t.status = %(source)s
                RETURNING t.{self.member_column} AS member_id, t.amount
            ),
            credited AS ({self._credits("moved")} RETURNING 1)
            SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM moved
        """

    def sqlite(self) -> list[str]:
        moved = (
            f"(SELECT {self.member_column} AS member_id, amount FROM {self.table} "
            f"WHERE id IN ({self._picked()}))"
        )
        return [
            f"SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM {moved}",
            self._credits(moved),
            f"UPDATE {self.table} SET status = %(target)s, {self.stamp} = %(now)s "
            f"WHERE id IN ({self._picked()})",
        ]

    def chunk(self, limit: int) -> tuple[int, Decimal]:
        """Move up to ``limit`` rows in one transaction: (rows moved, their total)."""
        params = {"source": self.source, "target": self.target, "limit": limit}
        params["now"] = timezone.now()
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
class SweepResult:
    rows: int = 0
    total: Decimal = Decimal("0.00")
    chunks: int = 0
    finished: bool = False


def sweep(kind: Sweep, *, chunk_rows: int, budget_seconds: float) -> SweepResult:
    """Chunks until nothing is left (finished) or the time budget is spent (not finished:
    the caller continues in a new task). Each chunk commits alone, so a crash loses at most
    the chunk in flight, which rolls back and is taken by the next run."""
    result = SweepResult()
    deadline = time.monotonic() + budget_seconds
    while True:
        started = time.monotonic()
        rows, total = kind.chunk(chunk_rows)
        result.rows, result.total = result.rows + rows, result.total + total
        result.chunks += 1
        log.info(
            "%s.chunk rows=%s total=%s ms=%.0f",
            kind.name,
            rows,
            total,
            (time.monotonic() - started) * 1000,
        )
        result.finished = rows < chunk_rows
        if result.finished or time.monotonic() > deadline:
            log.info(
                "%s.done rows=%s total=%s chunks=%s finished=%s",
                kind.name,
                result.rows,
                result.total,
                result.chunks,
                result.finished,
            )
            return result


def sweep_in_task(task, kind: Sweep) -> int:
    """Run a sweep inside ``task`` for its time budget; if rows are left, send the task
    again to do the rest. The rows moved."""
    result = sweep(kind, chunk_rows=settings.SWEEP_CHUNK_ROWS, budget_seconds=task.budget())
    if not result.finished:
        task.delay()
    return result.rows
