"""Random referral forests, rates and completions: after disbursement and maturation every
wallet equals the rate arithmetic done here independently, in integer cents, and the audit
passes."""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.commissions.audit import ledger_audit
from apps.commissions.models import CommissionRate
from apps.commissions.services import DISBURSEMENT
from apps.engagement.models import Activity, Assignment
from apps.engagement.services import activities_assign, assignment_complete
from apps.wallets.ledger_sweep import ledger_sweep_run
from apps.wallets.models import Earning, Wallet
from apps.wallets.services import MATURATION
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db


@st.composite
def worlds(draw):
    size = draw(st.integers(1, 12))
    parents = [None] + [draw(st.none() | st.integers(0, i - 1)) for i in range(1, size)]
    rates_bp = draw(st.lists(st.integers(0, 3000), min_size=1, max_size=4))  # 1/10,000ths
    rewards = draw(st.lists(st.integers(1, 100_000), min_size=1, max_size=3))  # cents
    pairs = [(m, t) for m in range(size) for t in range(len(rewards))]
    done = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    due = draw(st.lists(st.booleans(), min_size=len(done), max_size=len(done)))
    return parents, rates_bp, rewards, done, due


def expected_cents(parents, rates_bp, rewards, done, due):
    """(pending, withdrawable) per member index, from first principles."""
    pending, withdrawable = defaultdict(int), defaultdict(int)
    for (member, activity), matured in zip(done, due, strict=True):
        reward = rewards[activity]
        (withdrawable if matured else pending)[member] += reward
        upline = parents[member]
        for rate in rates_bp:
            if upline is None:
                break
            withdrawable[upline] += reward * rate // 10_000  # floor: never above the rate
            upline = parents[upline]
    return pending, withdrawable


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(world=worlds())
def test_wallets_equal_the_rate_arithmetic(world):
    parents, rates_bp, rewards, done, due = world
    with transaction.atomic():
        CommissionRate.objects.all().delete()
        CommissionRate.objects.bulk_create(
            CommissionRate(level=level, rate=Decimal(bp) / 10_000)
            for level, bp in enumerate(rates_bp, start=1)
        )
        members = []
        for parent in parents:
            upline = members[parent] if parent is not None else None
            members.append(MemberFactory(referred_by=upline))
        activities = [
            Activity.objects.create(title=f"t{i}", kind="video", reward=Decimal(c) / 100)
            for i, c in enumerate(rewards)
        ]
        today = timezone.localdate()
        activities_assign(day=today, after_member_id=members[0].pk - 1, members=len(members))
        for member, activity in done:
            a = Assignment.objects.get(
                member=members[member], activity=activities[activity], day=today
            )
            assert assignment_complete(assignment_id=a.pk, member_id=members[member].pk)
            assert not assignment_complete(assignment_id=a.pk, member_id=members[member].pk)
        matured = [
            Assignment.objects.get(member=members[m], activity=activities[t], day=today).pk
            for (m, t), d in zip(done, due, strict=True)
            if d
        ]
        Earning.objects.filter(source_id__in=[str(i) for i in matured]).update(
            matures_at=timezone.now() - timedelta(seconds=1)
        )
        for sweep in (DISBURSEMENT, MATURATION, DISBURSEMENT, MATURATION):  # twice: no change
            ledger_sweep_run(sweep, chunk_rows=3, budget_seconds=60)

        pending, withdrawable = expected_cents(*world)
        for index, member in enumerate(members):
            wallet = Wallet.objects.filter(member=member).first() or Wallet()
            assert (wallet.pending, wallet.withdrawable) == (
                Decimal(pending[index]) / 100,
                Decimal(withdrawable[index]) / 100,
            ), f"member {index}"
        assert ledger_audit().ok
        transaction.set_rollback(True)
