"""The ledger's invariants, checked in SQL (audit_ledger). Each check returns the rows that
break it; an empty result everywhere means every shilling is accounted for.

  wallet.pending      = sum of the member's PENDING earnings
  wallet.withdrawable = sum of MATURED earnings + sum of PROCESSED commissions to the member
Differences are rounded to the cent in SQL: SQLite sums decimals as floats.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection

from apps.common.money import cents

# Each member's balances as the ledgers say they should be.
EXPECTED = """
SELECT member_id, SUM(pending) AS pending, SUM(withdrawable) AS withdrawable FROM (
    SELECT member_id,
           CASE WHEN status = 'pending' THEN amount ELSE 0 END AS pending,
           CASE WHEN status = 'matured' THEN amount ELSE 0 END AS withdrawable
    FROM wallets_earning
    UNION ALL
    SELECT beneficiary_id, 0, amount FROM commissions_commissionledger WHERE status = 'processed'
) AS ledger GROUP BY member_id
"""

CHECKS = {
    "wallets that differ from their ledger rows": f"""
        SELECT w.member_id, w.pending, COALESCE(e.pending, 0),
               w.withdrawable, COALESCE(e.withdrawable, 0)
        FROM wallets_wallet w LEFT JOIN ({EXPECTED}) e ON e.member_id = w.member_id
        WHERE ROUND(w.pending - COALESCE(e.pending, 0), 2) <> 0
           OR ROUND(w.withdrawable - COALESCE(e.withdrawable, 0), 2) <> 0
    """,
    "ledger money with no wallet": f"""
        SELECT e.member_id, e.pending, e.withdrawable FROM ({EXPECTED}) e
        WHERE NOT EXISTS (SELECT 1 FROM wallets_wallet w WHERE w.member_id = e.member_id)
          AND (ROUND(e.pending, 2) <> 0 OR ROUND(e.withdrawable, 2) <> 0)
    """,
    "negative balances": """
        SELECT member_id, pending, withdrawable FROM wallets_wallet
        WHERE pending < 0 OR withdrawable < 0
    """,
    "causes with two commissions at one level": """
        SELECT source_kind, source_id, level, COUNT(*) FROM commissions_commissionledger
        GROUP BY source_kind, source_id, level HAVING COUNT(*) > 1
    """,
    "causes with two earnings": """
        SELECT source_kind, source_id, COUNT(*) FROM wallets_earning
        GROUP BY source_kind, source_id HAVING COUNT(*) > 1
    """,
    # base and rate have 2 and 4 decimals, so base x rate is exact to 6: the epsilon only
    # absorbs SQLite's floats.
    "commissions not base x rate rounded down": """
        SELECT id, base_amount, rate, amount FROM commissions_commissionledger
        WHERE amount > base_amount * rate + 0.0000001
           OR amount + 0.01 <= base_amount * rate - 0.0000001
    """,
    "commissions disbursed without a time": """
        SELECT id FROM commissions_commissionledger
        WHERE status = 'processed' AND processed_at IS NULL
    """,
    "earnings matured before their time": """
        SELECT id, matures_at, matured_at FROM wallets_earning
        WHERE status = 'matured' AND (matured_at IS NULL OR matured_at < matures_at)
    """,
}

TOTALS = """
SELECT
    (SELECT COALESCE(SUM(pending), 0) FROM wallets_wallet),
    (SELECT COALESCE(SUM(withdrawable), 0) FROM wallets_wallet),
    (SELECT COALESCE(SUM(amount), 0) FROM wallets_earning WHERE status = 'pending'),
    (SELECT COALESCE(SUM(amount), 0) FROM wallets_earning WHERE status = 'matured'),
    (SELECT COALESCE(SUM(amount), 0) FROM commissions_commissionledger WHERE status = 'pending'),
    (SELECT COALESCE(SUM(amount), 0) FROM commissions_commissionledger WHERE status = 'processed')
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
            cursor.execute(sql)
            rows = cursor.fetchall()
            findings.append(Finding(check, len(rows), rows[:SAMPLE]))
        cursor.execute(TOTALS)
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
