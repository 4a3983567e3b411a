"""Ledger rows in bulk for the benchmark and the load tests (PostgreSQL: generate_series).

Rows are spread over the given members round-robin, with amounts from 0.01 to 9.99, and
the wallets are credited to match, so audit_ledger passes before and after any sweep.
"""

from datetime import datetime

from django.db import connection, transaction

from apps.wallets.balances import UPSERT

COMMISSIONS = """
INSERT INTO commissions_commissionledger (beneficiary_id, source_member_id, source_kind,
    source_id, level, rate, base_amount, amount, status, created_at)
SELECT m.ids[1 + (n %% array_length(m.ids, 1))], m.ids[1 + ((n + 1) %% array_length(m.ids, 1))],
    'assignment', 'synthetic-' || %(tag)s || '-' || n, 1, 0.1000,
    (1 + n %% 999) * 0.10, (1 + n %% 999) * 0.01, 'pending', %(now)s
FROM generate_series(1, %(count)s) AS n, (SELECT %(ids)s::bigint[] AS ids) AS m
"""

EARNINGS = """
WITH made AS (
    INSERT INTO wallets_earning (member_id, amount, source_kind, source_id, status,
        created_at, matures_at)
    SELECT m.ids[1 + (n %% array_length(m.ids, 1))], (1 + n %% 999) * 0.01, 'assignment',
        'synthetic-' || %(tag)s || '-' || n, 'pending', %(now)s, %(matures_at)s
    FROM generate_series(1, %(count)s) AS n, (SELECT %(ids)s::bigint[] AS ids) AS m
    RETURNING member_id, amount
)
{upsert}
"""


def commissions_insert(*, count: int, member_ids: list[int], tag: str, now: datetime) -> None:
    """``count`` PENDING commissions, one level each (nothing to credit until disbursed)."""
    with connection.cursor() as cursor:
        cursor.execute(COMMISSIONS, {"count": count, "ids": member_ids, "tag": tag, "now": now})


def earnings_insert(
    *, count: int, member_ids: list[int], tag: str, now: datetime, matures_at: datetime
) -> None:
    """``count`` PENDING earnings maturing at ``matures_at``, credited to pending balances."""
    credit = UPSERT.format(
        rows=(
            "SELECT member_id, SUM(amount), 0, %(now)s FROM made WHERE true "
            "GROUP BY member_id ORDER BY member_id"
        )
    )
    params = {"count": count, "ids": member_ids, "tag": tag, "now": now}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(EARNINGS.format(upsert=credit), {**params, "matures_at": matures_at})
