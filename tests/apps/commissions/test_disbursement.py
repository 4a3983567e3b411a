"""Disbursement on real workers: overlapping runs credit each row once, a killed run is
finished by the next, totals exact. PostgreSQL (CI's first pass), as production runs it."""

import contextlib
import random
import re

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from apps.accounts.models import Member
from apps.commissions.audit import ledger_audit
from apps.commissions.models import CommissionLedger
from apps.demo.seed import members_seed
from apps.wallets.models import Wallet
from devstack import synthetic
from devstack.processes import wait_for
from tasks.commissions import disburse_commissions
from tests.support.workers import ProbeWorker, held, kill_holding

pytestmark = [
    pytest.mark.slow,  # real workers
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (row locks, SKIP LOCKED, concurrent writers); CI runs it there",
    ),
]


def pending_rows(count: int, members: int) -> dict[int, object]:
    """``count`` PENDING commissions over ``members`` members; what each is owed."""
    members_seed(members, random.Random(3))
    ids = list(Member.objects.order_by("pk").values_list("pk", flat=True))
    synthetic.commissions_insert(count=count, member_ids=ids, tag="t", now=timezone.now())
    owed = CommissionLedger.objects.values("beneficiary_id").annotate(total=Sum("amount"))
    return {row["beneficiary_id"]: row["total"] for row in owed}


def credited_once(owed: dict) -> None:
    assert not CommissionLedger.objects.filter(status="pending").exists()
    wallets = dict(Wallet.objects.values_list("member_id", "withdrawable"))
    assert wallets == owed  # every beneficiary, to the cent: nothing twice, nothing lost
    assert ledger_audit().ok


def rows_in(log: str) -> int:
    return sum(int(n) for n in re.findall(r"commissions\.disburse\.chunk rows=(\d+)", log))


LOCK = "lock:overlap:commissions:disburse"


@contextlib.contextmanager
def two_workers(tmp_path, env: dict):
    """Two commissions workers, as on two hosts; stopped (logs kept) when the block ends."""
    workers = [
        ProbeWorker(tmp_path, queue_names=["commissions"], env=env).start() for _ in range(2)
    ]
    try:
        yield workers
    finally:
        for w in workers:
            w.stop()


def test_a_run_that_starts_while_one_runs_is_skipped(tmp_path, empty_queues, redis_client):
    owed = pending_rows(20_000, 1_000)
    env = {"SWEEP_CHUNK_ROWS": "1000", "TASK_BUDGET_SHARE": "0"}  # a new task per chunk
    with two_workers(tmp_path, env) as workers:
        disburse_commissions.delay()
        wait_for(lambda: redis_client.exists(LOCK), what="the first run to hold the lock")
        disburse_commissions.delay()  # beat's next run, early
        wait_for(
            lambda: any("finished=True" in w.log() for w in workers),
            timeout=120,
            what="the run to finish",
        )
    logs = "".join(w.log() for w in workers)
    assert logs.count("reason=overlapping lock=overlap:commissions:disburse") == 1
    assert len(set(re.findall(r"commissions\.disburse\.done run=(\S+)", logs))) == 1  # one run
    assert sum(rows_in(w.log()) for w in workers) == 20_000
    assert not redis_client.exists(LOCK)  # freed when the run ended
    credited_once(owed)


def test_two_runs_at_once_on_two_workers_credit_every_row_once(
    tmp_path, empty_queues, redis_client
):
    owed = pending_rows(60_000, 2_000)
    env = {"SWEEP_CHUNK_ROWS": "1000"}
    with two_workers(tmp_path, env) as workers:
        disburse_commissions.delay()
        wait_for(
            lambda: any("commissions.disburse.chunk" in w.log() for w in workers),
            timeout=60,
            what="the first run to be under way",
        )
        redis_client.delete(LOCK)  # as if its TTL ran out: the money SQL must hold on its own
        disburse_commissions.delay()
        wait_for(
            lambda: all("commissions.disburse.done" in w.log() for w in workers),
            timeout=120,
            what="both runs to finish",
        )
    shares = [rows_in(w.log()) for w in workers]
    assert all(shares) and sum(shares) == 60_000, shares  # both ran, together, disjointly
    credited_once(owed)


def test_a_worker_killed_mid_disbursement_is_finished_by_the_next_run(
    tmp_path, empty_queues, redis_client
):
    owed = pending_rows(200_000, 5_000)
    env = {"SWEEP_CHUNK_ROWS": "5000"}
    before = set(held(redis_client, "commissions"))
    worker = ProbeWorker(tmp_path, queue_names=["commissions"], env=env).start()
    disburse_commissions.delay()
    wait_for(
        lambda: CommissionLedger.objects.filter(status="processed").count() >= 20_000,
        timeout=120,
        what="the run to be under way",
    )
    interrupted = kill_holding(worker, redis_client, "commissions", before)
    assert {m.task for m in interrupted} == {"tasks.commissions.disburse_commissions"}
    left = CommissionLedger.objects.filter(status="pending").count()
    assert 0 < left < 200_000, left  # killed with work left over
    assert ledger_audit().ok  # the chunk in flight rolled back whole
    credited = Wallet.objects.aggregate(total=Sum("withdrawable"))["total"]
    processed = CommissionLedger.objects.filter(status="processed").aggregate(t=Sum("amount"))
    assert credited == processed["t"]  # what is marked is exactly what was credited

    replacement = ProbeWorker(tmp_path, queue_names=["commissions"], env=env).start()
    try:
        redis_client.delete(LOCK)  # the killed run's lock: its TTL has run out by the next hour
        disburse_commissions.delay()  # the next hourly run
        wait_for(
            lambda: not CommissionLedger.objects.filter(status="pending").exists(),
            timeout=120,
            what="the next run to finish",
        )
    finally:
        replacement.stop()
    credited_once(owed)
