"""Daily assignment: every active member gets every active activity once a day, in chunks,
through the default queue; and seed_demo's forest for the demo."""

import random
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.accounts.models import Member
from apps.demo.seed import members_seed
from apps.engagement.models import Assignment
from apps.engagement.services import activities_assign
from devstack.processes import wait_for
from tasks.default import assign_daily_activities
from tests.support.factories import ActivityFactory, MemberFactory
from tests.support.workers import ProbeWorker


@pytest.fixture
def activities(db):
    ActivityFactory(title="Off", is_active=False)
    return [ActivityFactory(kind="video", reward=Decimal("2")) for _ in range(3)]


@pytest.mark.django_db
def test_active_members_get_active_activities_once(activities):
    members = [MemberFactory() for _ in range(5)]
    MemberFactory(is_active=False)
    MemberFactory(is_staff=True)
    today = timezone.localdate()
    for _ in range(2):  # a second run adds nothing
        after = 0
        while after is not None:
            after = activities_assign(day=today, after_member_id=after, members=2)
    got = set(Assignment.objects.values_list("member_id", "activity_id"))
    assert got == {(m.pk, a.pk) for m in members for a in activities}


@pytest.mark.slow  # a real worker
@pytest.mark.django_db(transaction=True)
def test_assign_daily_activities_runs_on_the_default_queue_and_continues_in_new_tasks(
    tmp_path, activities, empty_queues
):
    members_seed(25, random.Random(1))
    worker = ProbeWorker(
        tmp_path,
        queue_names=["default"],
        env={"ASSIGN_CHUNK_MEMBERS": "10", "TASK_BUDGET_SHARE": "0"},
    ).start()
    try:
        assign_daily_activities.delay()
        wait_for(
            lambda: worker.log().count("task.finish") >= 4,
            timeout=30,
            what="three chunks and an empty one",
        )
    finally:
        worker.stop()
    assert Assignment.objects.filter(day=timezone.localdate()).count() == 25 * 3
    assert worker.log().count("assignments.created") == 3


@pytest.mark.django_db
def test_seed_demo_builds_a_referral_forest_with_completions_that_audit_clean():
    out = StringIO()
    call_command("seed_demo", "--members", "120", stdout=out)
    call_command("seed_demo", "--members", "120", stdout=out)  # the same again: nothing new
    demo = Member.objects.filter(phone__startswith="254700")
    assert demo.count() == 120
    with_upline = demo.exclude(referred_by=None).count()
    assert 100 <= with_upline < 120  # a forest: mostly referred, a few roots
    deep = demo.filter(referred_by__referred_by__referred_by__isnull=False).count()
    assert deep > 0  # deep enough for three commission levels
    completed = Assignment.objects.filter(status="completed").count()
    assert 0 < completed < Assignment.objects.count()
    call_command("audit_ledger", stdout=StringIO())
