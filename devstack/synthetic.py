"""Ledger rows in bulk for the benchmark and the load tests (PostgreSQL: generate_series).

Rows are spread over the given members round-robin, with amounts from 0.01 to 9.99, and
the wallets are credited to match, so audit_ledger passes before and after any sweep.
"""

from datetime import datetime

from django.db import connection, transaction

from apps.commissions.models import CommissionLedger
from apps.wallets.balances import wallets_upsert_sql
from apps.wallets.models import Earning
from apps.wallets.sql import SqlNames

_C, _E = SqlNames(CommissionLedger), SqlNames(Earning)

COMMISSIONS = f"""
INSERT INTO {_C.table} ({_C.beneficiary}, {_C.source_member}, {_C.source_kind},
    {_C.source_id}, {_C.level}, {_C.rate}, {_C.base_amount}, {_C.amount}, {_C.status},
    {_C.created_at})
SELECT m.ids[1 + (n %% array_length(m.ids, 1))], m.ids[1 + ((n + 1) %% array_length(m.ids, 1))],
    %(kind)s, 'synthetic-' || %(tag)s || '-' || n, 1, 0.1000,
    (1 + n %% 999) * 0.10, (1 + n %% 999) * 0.01, %(status)s, %(now)s
FROM generate_series(1, %(count)s) AS n, (SELECT %(ids)s::bigint[] AS ids) AS m
"""

EARNINGS = f"""
WITH made AS (
    INSERT INTO {_E.table} ({_E.member}, {_E.amount}, {_E.source_kind}, {_E.source_id},
        {_E.status}, {_E.created_at}, {_E.matures_at})
    SELECT m.ids[1 + (n %% array_length(m.ids, 1))], (1 + n %% 999) * 0.01, %(kind)s,
        'synthetic-' || %(tag)s || '-' || n, %(status)s, %(now)s, %(matures_at)s
    FROM generate_series(1, %(count)s) AS n, (SELECT %(ids)s::bigint[] AS ids) AS m
    RETURNING {_E.member} AS member_id, {_E.amount} AS amount
)
{{upsert}}
"""


def commissions_insert(*, count: int, member_ids: list[int], tag: str, now: datetime) -> None:
    """``count`` PENDING commissions, one level each (nothing to credit until disbursed)."""
    params = {"count": count, "ids": member_ids, "tag": tag, "now": now}
    params.update(kind=CommissionLedger.Source.ASSIGNMENT, status=CommissionLedger.Status.PENDING)
    with connection.cursor() as cursor:
        cursor.execute(COMMISSIONS, params)


def earnings_insert(
    *, count: int, member_ids: list[int], tag: str, now: datetime, matures_at: datetime
) -> None:
    """``count`` PENDING earnings maturing at ``matures_at``, credited to pending balances."""
    credit = wallets_upsert_sql(
        "SELECT member_id, SUM(amount), 0, %(now)s FROM made WHERE true "
        "GROUP BY member_id ORDER BY member_id"
    )
    params = {"count": count, "ids": member_ids, "tag": tag, "now": now, "matures_at": matures_at}
    params.update(kind=Earning.Source.ASSIGNMENT, status=Earning.Status.PENDING)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(EARNINGS.format(upsert=credit), params)
