"""Maturation moves an earning exactly when its matures_at has passed: never before."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.commissions.audit import ledger_audit
from apps.wallets.ledger_sweep import ledger_sweep_run
from apps.wallets.models import Earning, Wallet
from apps.wallets.services import MATURATION, earning_record
from devstack.processes import wait_for
from tasks.maturation import mature_balances
from tests.support.factories import MemberFactory
from tests.support.workers import ProbeWorker

HOURS_72 = timedelta(hours=72)


def credit(member, seconds_from_due: int, n: int) -> Earning:
    """An earning that matures ``seconds_from_due`` from now (negative: already due)."""
    at = timezone.now() - HOURS_72 + timedelta(seconds=seconds_from_due)
    return earning_record(
        member_id=member.pk, amount=Decimal("1.25"), source_kind="assignment", source_id=n, at=at
    )


@pytest.mark.django_db
def test_only_what_is_due_matures_and_all_of_it_does():
    member = MemberFactory()
    offsets = [-86_400, -3_600, -5, -1, 2, 60, 3_600, 86_400]
    for n, offset in enumerate(offsets):
        credit(member, offset, n)
    started = timezone.now()
    result = ledger_sweep_run(MATURATION, chunk_rows=2, budget_seconds=60)
    assert result.rows == 4 and result.finished
    for earning in Earning.objects.all():
        if earning.matures_at <= started:
            assert earning.status == "matured" and earning.matured_at >= earning.matures_at
        else:
            assert earning.status == "pending" and earning.matured_at is None
    wallet = Wallet.objects.get(member=member)
    assert (wallet.pending, wallet.withdrawable) == (Decimal("5.00"), Decimal("5.00"))
    assert ledger_sweep_run(MATURATION, chunk_rows=2, budget_seconds=60).rows == 0
    assert ledger_audit().ok


@pytest.mark.django_db
def test_a_second_credit_for_one_cause_changes_nothing():
    member = MemberFactory()
    assert credit(member, 10, 1) is not None
    assert credit(member, 10, 1) is None
    assert Wallet.objects.get(member=member).pending == Decimal("1.25")


@pytest.mark.slow  # a real worker
@pytest.mark.django_db(transaction=True)
def test_mature_balances_through_the_maturation_queue_continues_in_new_tasks(
    tmp_path, empty_queues
):
    member = MemberFactory()
    for n in range(7):
        credit(member, -10, n)
    credit(member, 3_600, 99)
    # Budget 0: one chunk of 2 per task, so 7 due rows take 4 tasks, each sending the next.
    worker = ProbeWorker(
        tmp_path,
        queue_names=["maturation"],
        env={"SWEEP_CHUNK_ROWS": "2", "TASK_BUDGET_SHARE": "0"},
    ).start()
    try:
        mature_balances.delay()
        wait_for(
            lambda: Earning.objects.filter(status="matured").count() == 7,
            timeout=30,
            what="every due earning matured",
        )
        wait_for(
            lambda: worker.log().count("maturation.mature.done") >= 4,
            timeout=10,
            what="the last task to finish",
        )
    finally:
        worker.stop()
    # (the run's digests follow it on this queue, as tasks of their own)
    runs = worker.log().count("name=tasks.maturation.mature_balances ")
    assert runs == 4, runs
    assert Earning.objects.get(source_id="99").status == "pending"
    assert ledger_audit().ok
