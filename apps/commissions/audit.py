"""The ledger's invariants, checked in SQL (audit_ledger). Each check returns the rows that
break it; an empty result everywhere means every shilling is accounted for.

  wallet.pending      = sum of the member's PENDING earnings
  wallet.withdrawable = sum of MATURED earnings + sum of PROCESSED commissions to the member
Differences are rounded to the cent in SQL: SQLite sums decimals as floats.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from apps.commissions.models import CommissionLedger
from apps.common.money import cents
from apps.wallets.models import Earning, Wallet
from apps.wallets.sql import SqlNames

_E, _C, _W = SqlNames(Earning), SqlNames(CommissionLedger), SqlNames(Wallet)

# The statuses the checks name, as query parameters.
STATUSES = {
    "earning_pending": Earning.Status.PENDING,
    "earning_matured": Earning.Status.MATURED,
    "commission_pending": CommissionLedger.Status.PENDING,
    "commission_processed": CommissionLedger.Status.PROCESSED,
}

# Each member's balances as the ledgers say they should be.
EXPECTED = f"""
SELECT member_id, SUM(pending) AS pending, SUM(withdrawable) AS withdrawable FROM (
    SELECT {_E.member} AS member_id,
           CASE WHEN {_E.status} = %(earning_pending)s THEN {_E.amount} ELSE 0 END AS pending,
           CASE WHEN {_E.status} = %(earning_matured)s THEN {_E.amount} ELSE 0 END
               AS withdrawable
    FROM {_E.table}
    UNION ALL
    SELECT {_C.beneficiary}, 0, {_C.amount} FROM {_C.table}
    WHERE {_C.status} = %(commission_processed)s
) AS ledger GROUP BY member_id
"""

CHECKS = {
    "wallets that differ from their ledger rows": f"""
        SELECT w.{_W.member}, w.{_W.pending}, COALESCE(e.pending, 0),
               w.{_W.withdrawable}, COALESCE(e.withdrawable, 0)
        FROM {_W.table} w LEFT JOIN ({EXPECTED}) e ON e.member_id = w.{_W.member}
        WHERE ROUND(w.{_W.pending} - COALESCE(e.pending, 0), 2) <> 0
           OR ROUND(w.{_W.withdrawable} - COALESCE(e.withdrawable, 0), 2) <> 0
    """,
    "ledger money with no wallet": f"""
        SELECT e.member_id, e.pending, e.withdrawable FROM ({EXPECTED}) e
        WHERE NOT EXISTS (SELECT 1 FROM {_W.table} w WHERE w.{_W.member} = e.member_id)
          AND (ROUND(e.pending, 2) <> 0 OR ROUND(e.withdrawable, 2) <> 0)
    """,
    "negative balances": f"""
        SELECT {_W.member}, {_W.pending}, {_W.withdrawable} FROM {_W.table}
        WHERE {_W.pending} < 0 OR {_W.withdrawable} < 0
    """,
    "causes with two commissions at one level": f"""
        SELECT {_C.source_kind}, {_C.source_id}, {_C.level}, COUNT(*) FROM {_C.table}
        GROUP BY {_C.source_kind}, {_C.source_id}, {_C.level} HAVING COUNT(*) > 1
    """,
    "causes with two earnings": f"""
        SELECT {_E.source_kind}, {_E.source_id}, COUNT(*) FROM {_E.table}
        GROUP BY {_E.source_kind}, {_E.source_id} HAVING COUNT(*) > 1
    """,
    # base and rate have 2 and 4 decimals, so base x rate is exact to 6: the epsilon only
    # absorbs SQLite's floats.
    "commissions not base x rate rounded down": f"""
        SELECT {_C.pk}, {_C.base_amount}, {_C.rate}, {_C.amount} FROM {_C.table}
        WHERE {_C.amount} > {_C.base_amount} * {_C.rate} + 0.0000001
           OR {_C.amount} + 0.01 <= {_C.base_amount} * {_C.rate} - 0.0000001
    """,
    "commissions disbursed without a time": f"""
        SELECT {_C.pk} FROM {_C.table}
        WHERE {_C.status} = %(commission_processed)s AND {_C.processed_at} IS NULL
    """,
    "earnings matured before their time": f"""
        SELECT {_E.pk}, {_E.matures_at}, {_E.matured_at} FROM {_E.table}
        WHERE {_E.status} = %(earning_matured)s
          AND ({_E.matured_at} IS NULL OR {_E.matured_at} < {_E.matures_at})
    """,
}


def _sum(names: SqlNames, status: str) -> str:
    return (
        f"(SELECT COALESCE(SUM({names.amount}), 0) FROM {names.table} "
        f"WHERE {names.status} = %({status})s)"
    )


TOTALS = f"""
SELECT
    (SELECT COALESCE(SUM({_W.pending}), 0) FROM {_W.table}),
    (SELECT COALESCE(SUM({_W.withdrawable}), 0) FROM {_W.table}),
    {_sum(_E, "earning_pending")},
    {_sum(_E, "earning_matured")},
    {_sum(_C, "commission_pending")},
    {_sum(_C, "commission_processed")}
"""

SAMPLE = 10


@dataclass
class Finding:
    check: str
    count: int
    sample: list[tuple] = field(default_factory=list)


@dataclass
class Report:
    findings: list[Finding]
    totals: dict[str, Decimal]

    @property
    def ok(self) -> bool:
        return not any(f.count for f in self.findings) and self.totals_agree

    @property
    def totals_agree(self) -> bool:
        t = self.totals
        return (
            t["wallets pending"] == t["earnings pending"]
            and t["wallets withdrawable"] == t["earnings matured"] + t["commissions processed"]
        )


def ledger_audit() -> Report:
    findings = []
    with connection.cursor() as cursor:
        for check, sql in CHECKS.items():
            cursor.execute(sql, STATUSES)
            rows = cursor.fetchall()
            findings.append(Finding(check, len(rows), rows[:SAMPLE]))
        cursor.execute(TOTALS, STATUSES)
        names = (
            "wallets pending",
            "wallets withdrawable",
            "earnings pending",
            "earnings matured",
            "commissions pending",
            "commissions processed",
        )
        totals = {name: cents(value) for name, value in zip(names, cursor.fetchone(), strict=True)}
    return Report(findings, totals)
