"""Disbursement and maturation at a million rows (PostgreSQL): the set-based sweeps against
a naive per-row ORM loop (lock the wallet, add, save, mark the row) on a 5,000-row sample,
in the same run and database; then audit_ledger over everything they moved.

The forest is seed_demo's (100,000 members); the ledger rows are bulk-inserted
(devstack/synthetic.py), spread evenly over the members.
"""

import random
import time
from datetime import timedelta

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.models import Member
from apps.commissions.audit import ledger_audit
from apps.commissions.models import CommissionLedger
from apps.commissions.services import DISBURSEMENT
from apps.demo.seed import members_seed
from apps.wallets.ledger_sweep import LedgerSweep, ledger_sweep_run
from apps.wallets.models import Earning, Wallet
from apps.wallets.services import MATURATION
from devstack import synthetic

SAMPLE = 5_000


def run(rows: int, members: int) -> list[dict]:
    if connection.vendor != "postgresql":
        return [_row("disbursement and maturation", "skipped", "needs PostgreSQL")]
    settings.DEBUG = False  # dev settings would log every query of the naive loop
    call_command("migrate", verbosity=0)
    members_seed(members, random.Random(1))
    ids = list(Member.objects.order_by("pk").values_list("pk", flat=True)[:members])
    now = timezone.now()
    out = []

    synthetic.commissions_insert(count=rows, member_ids=ids, tag="bench", now=now)
    fast = _timed_sweep(DISBURSEMENT)
    synthetic.commissions_insert(count=SAMPLE, member_ids=ids, tag="naive", now=now)
    pending = CommissionLedger.objects.filter(status=CommissionLedger.Status.PENDING)
    slow = _timed_naive(_disburse_one, pending)
    out += _figures("disbursement", rows, members, fast, slow)

    due = now - timedelta(seconds=1)
    synthetic.earnings_insert(count=rows, member_ids=ids, tag="bench", now=now, matures_at=due)
    fast = _timed_sweep(MATURATION)
    synthetic.earnings_insert(count=SAMPLE, member_ids=ids, tag="naive", now=now, matures_at=due)
    slow = _timed_naive(_mature_one, Earning.objects.filter(status=Earning.Status.PENDING))
    out += _figures("maturation", rows, members, fast, slow)

    started = time.perf_counter()
    report = ledger_audit()
    took = time.perf_counter() - started
    verdict = "ok" if report.ok else "MISMATCH"
    out.append(_row("audit_ledger after both", f"{verdict} in {took:.1f} s", "every wallet"))
    return out


def _timed_sweep(sweep: LedgerSweep) -> tuple[int, float]:
    with connection.cursor() as cursor:
        # As autovacuum would, after the load.
        cursor.execute(f"VACUUM ANALYZE {sweep.model._meta.db_table}")
    started = time.perf_counter()
    result = ledger_sweep_run(sweep, chunk_rows=settings.SWEEP_CHUNK_ROWS, budget_seconds=3600)
    return result.rows, time.perf_counter() - started


def _timed_naive(move, pending) -> tuple[int, float]:
    started = time.perf_counter()
    for row in pending.order_by("pk")[:SAMPLE]:
        with transaction.atomic():
            move(row)
    return SAMPLE, time.perf_counter() - started


def _disburse_one(row: CommissionLedger) -> None:
    wallet, _ = Wallet.objects.select_for_update().get_or_create(member_id=row.beneficiary_id)
    wallet.withdrawable = F("withdrawable") + row.amount
    wallet.save(update_fields=["withdrawable", "updated_at"])
    row.status, row.processed_at = CommissionLedger.Status.PROCESSED, timezone.now()
    row.save(update_fields=["status", "processed_at"])


def _mature_one(row: Earning) -> None:
    wallet = Wallet.objects.select_for_update().get(member_id=row.member_id)
    wallet.pending = F("pending") - row.amount
    wallet.withdrawable = F("withdrawable") + row.amount
    wallet.save(update_fields=["pending", "withdrawable", "updated_at"])
    row.status, row.matured_at = Earning.Status.MATURED, timezone.now()
    row.save(update_fields=["status", "matured_at"])


def _figures(name, rows, members, fast, slow) -> list[dict]:
    (done, took), (sample, naive_took) = fast, slow
    fast_rate, slow_rate = done / took, sample / naive_took
    chunk = settings.SWEEP_CHUNK_ROWS
    return [
        _row(
            f"{name}: rows/s, set-based",
            f"{fast_rate:,.0f} ({done:,} rows in {took:.1f} s)",
            f"{members:,} members, chunks of {chunk:,}; goal {rows:,} in 30 s or less",
        ),
        _row(f"{name}: rows/s, naive ORM loop", f"{slow_rate:,.0f}", f"{sample:,}-row sample"),
        _row(f"{name}: speed-up", f"{fast_rate / slow_rate:.0f}x", "goal: 50x or more"),
    ]


def _row(measure: str, value: str, setup: str) -> dict:
    return {"measure": measure, "value": value, "setup": setup}
