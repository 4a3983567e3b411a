"""Sweep digests: each member gets one notice per sweep run, whatever the run's chunks and
tasks, saying what the run credited them; told once, never lost, and the ledger still adds
up. In-process, on SQLite and PostgreSQL alike; test_sweep_digests_workers.py crosses the
queues."""

import base64
import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.commissions.audit import ledger_audit
from apps.commissions.models import CommissionLedger
from apps.commissions.services import DISBURSEMENT, commissions_disburse
from apps.common.errors import ApplicationError
from apps.notifications.models import Channel, Notification, Preference
from apps.ops.models import Batch
from apps.wallets.models import SweepChunk, SweepCredit, Wallet
from apps.wallets.selectors import sweep_runs_untold
from apps.wallets.services import (
    MATURATION,
    balances_mature,
    earning_record,
    sweep_credits_prune,
    sweep_digests_notify,
)
from apps.wallets.tallies import chunk_fold
from devstack.processes import wait_for
from tasks.default import prune_history
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db

AMOUNT = Decimal("1.25")
DAY = timedelta(days=1)
_made = iter(range(1_000_000))


def commissions_pending(counts: dict) -> None:
    """``counts[member]`` PENDING commissions of AMOUNT to each member (base 12.50 at 10 %)."""
    source = MemberFactory()
    CommissionLedger.objects.bulk_create(
        CommissionLedger(
            beneficiary=member,
            source_member=source,
            source_kind=CommissionLedger.Source.ASSIGNMENT,
            source_id=str(next(_made)),
            level=1,
            rate=Decimal("0.1000"),
            base_amount=Decimal("12.50"),
            amount=AMOUNT,
            created_at=timezone.now(),
        )
        for member, count in counts.items()
        for _ in range(count)
    )


def earnings_due(counts: dict) -> None:
    """``counts[member]`` earnings of AMOUNT to each member, due to mature now."""
    at = timezone.now() - timedelta(hours=73)
    for member, count in counts.items():
        for _ in range(count):
            earning_record(
                member_id=member.pk,
                amount=AMOUNT,
                source_kind="assignment",
                source_id=str(next(_made)),
                at=at,
            )


# The two sweeps: (name, the service its task calls, rows for it, the notice, a line of it).
SWEEPS = [
    pytest.param(
        DISBURSEMENT.name,
        commissions_disburse,
        commissions_pending,
        "commissions_credited",
        "KES {total} in commissions from {rows} referral{s} is now withdrawable.",
        id="disbursement",
    ),
    pytest.param(
        MATURATION.name,
        balances_mature,
        earnings_due,
        "earnings_matured",
        "KES {total} of your earnings ({rows} item{s}) matured and is now withdrawable.",
        id="maturation",
    ),
]


def sweep_to_the_end(service, run: str) -> int:
    """What a run's task and its continuations do: the service again with what it returned
    (budget 0: one chunk per task), until it says the run is finished. How many tasks."""
    remaining, tasks = {"run": run}, 0
    while remaining is not None:
        remaining, _ = service(budget_seconds=0, **remaining)
        tasks += 1
    return tasks


def tell(sweep: str, run: str) -> int:
    """send_sweep_digests and its continuations, as sweep_to_the_end."""
    remaining, written = {"sweep": sweep, "run": run}, 0
    while remaining is not None:
        remaining, notices = sweep_digests_notify(budget_seconds=0, **remaining)
        written += notices
    return written


def in_app(kind: str) -> dict[int, list[str]]:
    """Each member's in-app notices of ``kind``, oldest first."""
    out: dict[int, list[str]] = {}
    notices = Notification.objects.filter(kind=kind, channel=Channel.IN_APP).order_by("pk")
    for notice in notices:
        out.setdefault(notice.member_id, []).append(notice.body)
    return out


@pytest.fixture
def members():
    """Three members; the last chose SMS and mail as well."""
    chosen = MemberFactory(name="Achieng", email="achieng@example.com")
    Preference.objects.create(member=chosen, sms=True, email=True)
    return [MemberFactory(name="Otieno"), MemberFactory(), chosen]


@pytest.mark.parametrize(("sweep", "service", "make", "kind", "line"), SWEEPS)
def test_a_run_of_many_chunks_and_tasks_tells_each_member_once_what_it_credited(
    sweep, service, make, kind, line, members, settings
):
    settings.SWEEP_CHUNK_ROWS = 2  # 9 rows: 5 chunks, each in a task of its own
    make(dict(zip(members, [1, 3, 5], strict=True)))

    assert sweep_to_the_end(service, "run-1") == 5
    assert SweepChunk.objects.filter(sweep=sweep, run="run-1").count() == 5  # one per chunk
    assert tell(sweep, "run-1") == 5  # in-app for all three, SMS and mail for one

    assert not SweepChunk.objects.exists()  # folded into one row per member
    credits = SweepCredit.objects.filter(sweep=sweep, run="run-1")
    assert {c.member_id: (c.rows, c.total) for c in credits} == {
        members[0].pk: (1, Decimal("1.25")),
        members[1].pk: (3, Decimal("3.75")),
        members[2].pk: (5, Decimal("6.25")),
    }

    told = in_app(kind)
    assert told == {
        members[0].pk: [line.format(total="1.25", rows=1, s="")],
        members[1].pk: [line.format(total="3.75", rows=3, s="s")],
        members[2].pk: [line.format(total="6.25", rows=5, s="s")],
    }
    by_channel = Notification.objects.filter(member=members[2], kind=kind)
    assert sorted(by_channel.values_list("channel", flat=True)) == ["email", "in_app", "sms"]
    assert by_channel.get(channel=Channel.EMAIL).body.startswith("Hello Achieng,")
    assert not SweepCredit.objects.filter(notified_at__isnull=True).exists()
    wallets = dict(Wallet.objects.values_list("member_id", "withdrawable"))
    assert [wallets[m.pk] for m in members] == [Decimal("1.25"), Decimal("3.75"), Decimal("6.25")]
    assert ledger_audit().ok


@pytest.mark.parametrize(("sweep", "service", "make", "kind", "line"), SWEEPS)
def test_telling_a_run_again_writes_nothing_and_the_next_run_is_told_apart(
    sweep, service, make, kind, line, members, settings
):
    settings.NOTIFY_CHUNK = 2  # three members: two chunks, in two tasks
    make(dict.fromkeys(members, 2))
    sweep_to_the_end(service, "run-1")
    assert tell(sweep, "run-1") == 5
    written = Notification.objects.count()

    assert tell(sweep, "run-1") == 0  # a rerun, or a duplicate message
    SweepCredit.objects.update(notified_at=None)  # even with the marks gone, the keys hold
    tell(sweep, "run-1")
    assert Notification.objects.count() == written

    make({members[0]: 3})
    sweep_to_the_end(service, "run-2")
    tell(sweep, "run-2")
    told = in_app(kind)
    assert told[members[0].pk] == [
        line.format(total="2.50", rows=2, s="s"),
        line.format(total="3.75", rows=3, s="s"),
    ]
    assert len(told[members[1].pk]) == len(told[members[2].pk]) == 1
    assert ledger_audit().ok


@pytest.mark.parametrize(("sweep", "service", "make", "kind", "line"), SWEEPS)
def test_what_a_run_credits_after_its_digest_went_out_is_told_too_and_only_that(
    sweep, service, make, kind, line, members
):
    make({members[0]: 2})
    sweep_to_the_end(service, "run-1")
    tell(sweep, "run-1")
    # The run's last task runs again (its worker died before acknowledging it) and finds
    # new rows: they are the same run's, but the member was told already.
    make({members[0]: 3})
    sweep_to_the_end(service, "run-1")
    tell(sweep, "run-1")

    credits = SweepCredit.objects.filter(run="run-1").order_by("pk")
    assert [(c.rows, c.total) for c in credits] == [(2, Decimal("2.50")), (3, Decimal("3.75"))]
    assert in_app(kind)[members[0].pk] == [
        line.format(total="2.50", rows=2, s="s"),
        line.format(total="3.75", rows=3, s="s"),
    ]
    assert ledger_audit().ok


def credit(run: str, *, age: timedelta = timedelta(0), sweep: str = DISBURSEMENT.name, **more):
    """A run's SweepCredit row of 1.00, credited ``age`` ago."""
    return SweepCredit.objects.create(
        sweep=sweep,
        run=run,
        member=more.pop("member", None) or MemberFactory(),
        rows=1,
        total=1,
        created_at=timezone.now() - age,
        **more,
    )


def chunk(run: str, *, age: timedelta = timedelta(0), sweep: str = DISBURSEMENT.name):
    """A run's SweepChunk row not folded yet, written ``age`` ago."""
    return SweepChunk.objects.create(
        sweep=sweep, run=run, created_at=timezone.now() - age, credits=[]
    )


def test_a_finished_run_queues_its_digests_and_those_of_runs_left_untold(
    members, redis_client, empty_queues, django_capture_on_commit_callbacks, settings
):
    settings.SWEEP_CHUNK_ROWS = 2
    commissions_pending({members[0]: 3})
    # Earlier runs whose digest message was lost (one before it folded anything, one half
    # way), one told already, a young one (perhaps still running) and another sweep's.
    two_hours = timedelta(hours=2)
    chunk("lost-early", age=two_hours)
    credit("lost-half-way", age=two_hours)
    credit("told", age=two_hours, notified_at=timezone.now())
    chunk("young")
    credit("young")
    credit("other-sweep", age=two_hours, sweep=MATURATION.name)

    with django_capture_on_commit_callbacks(execute=True):
        assert commissions_disburse(run="now", budget_seconds=0) == ({"run": "now"}, 2)
    assert queued(redis_client) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert commissions_disburse(run="now", budget_seconds=0) == (None, 1)

    runs = ("lost-early", "lost-half-way", "now")
    assert queued(redis_client) == [
        ("tasks.maturation.send_sweep_digests", {"sweep": DISBURSEMENT.name, "run": run})
        for run in runs
    ]
    # Each run's digests are a batch of their own, its writer the first job.
    batches = Batch.objects.order_by("name")
    assert [b.name for b in batches] == [f"Digests: {DISBURSEMENT.name} {run}" for run in runs]
    assert {(b.total, b.pending) for b in batches} == {(1, 1)}


def queued(redis_client) -> list[tuple[str, dict]]:
    out = []
    for raw in redis_client.lrange("maturation", 0, -1):
        message = json.loads(raw)
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        out.append((message["headers"]["task"], kwargs))
    return sorted(out, key=lambda task: task[1]["run"])


def test_runs_untold_are_the_run_itself_and_those_overdue():
    hour = timedelta(hours=1)
    credit("a")
    chunk("b", age=2 * hour)
    credit("c", age=2 * hour)
    credit("d", age=hour / 2)
    before = timezone.now() - hour
    assert sweep_runs_untold(sweep=DISBURSEMENT.name, run="a", before=before) == ["a", "b", "c"]
    assert sweep_runs_untold(sweep=DISBURSEMENT.name, run="z", before=before) == ["b", "c"]
    SweepChunk.objects.all().delete()
    SweepCredit.objects.filter(run="c").update(notified_at=timezone.now())
    assert sweep_runs_untold(sweep=DISBURSEMENT.name, run="z", before=before) == []


def test_an_unknown_sweep_is_refused():
    with pytest.raises(ApplicationError, match="no digest for sweep 'nope'"):
        sweep_digests_notify(sweep="nope", run="r", budget_seconds=1)


def test_the_daily_prune_forgets_tallies_older_than_the_kept_days(settings):
    settings.HISTORY_KEEP_DAYS = 30
    for run, days in [("old", 31), ("older", 90), ("kept", 29)]:
        credit(run, age=days * DAY)
    chunk("never-told", age=31 * DAY)
    chunk("kept", age=29 * DAY)
    assert sweep_credits_prune() == 3
    assert list(SweepCredit.objects.values_list("run", flat=True)) == ["kept"]
    assert list(SweepChunk.objects.values_list("run", flat=True)) == ["kept"]
    credit("old", age=31 * DAY)
    assert prune_history() == 1  # the beat task prunes them with the rest of the history


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
def test_a_chunk_folded_while_its_member_is_being_told_waits_and_opens_a_row_of_its_own(
    empty_queues,
):
    """A digest holds the rows it tells until its notices commit. Another digest task of the
    run (the run's last task ran again and credited more) that folds a chunk for one of
    those members meanwhile must wait, then open a new row: adding to the row being told
    would have it marked told with what it added never said."""
    member = MemberFactory()
    commissions_pending({member: 2})
    sweep_to_the_end(commissions_disburse, "r")
    first = SweepChunk.objects.get(run="r")
    chunk_fold(chunk=first)  # as the digest task does first
    first.delete()
    told = SweepCredit.objects.get(run="r")
    failures, threads = [], []

    def start(work, **kwargs) -> threading.Thread:
        def body():
            try:
                work(**kwargs)
            except Exception as exc:  # reported by the test below
                failures.append(exc)
            finally:
                connection.close()

        threads.append(threading.Thread(target=body))
        threads[-1].start()
        return threads[-1]

    tell_kwargs = {"sweep": DISBURSEMENT.name, "run": "r", "budget_seconds": 60}
    with transaction.atomic():
        # A notice with the digest's key, not committed: the digest waits for it with its
        # rows locked, which is the moment this test is about.
        Notification.objects.create(
            member=member,
            kind="commissions_credited",
            channel=Channel.IN_APP,
            body="in the way",
            key=f"digest:{DISBURSEMENT.name}:r:{member.pk}:{told.pk}",
        )
        start(sweep_digests_notify, **tell_kwargs)
        wait_for(lambda: lock_waiters() == 1, timeout=10, what="the digest to wait")
        start(commissions_more, member=member).join(timeout=30)
        start(sweep_digests_notify, **tell_kwargs)
        wait_for(lambda: lock_waiters() == 2, timeout=10, what="the second digest to wait")
        transaction.set_rollback(True)
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []

    credits = SweepCredit.objects.filter(run="r").order_by("pk")
    assert [(c.rows, c.total, c.notified_at is not None) for c in credits] == [
        (2, Decimal("2.50"), True),
        (3, Decimal("3.75"), True),
    ]
    assert in_app("commissions_credited")[member.pk] == [
        "KES 2.50 in commissions from 2 referrals is now withdrawable.",
        "KES 3.75 in commissions from 3 referrals is now withdrawable.",
    ]
    assert ledger_audit().ok


def commissions_more(*, member) -> None:
    """Three more commissions to ``member``, credited under run "r" (its last task again)."""
    commissions_pending({member: 3})
    sweep_to_the_end(commissions_disburse, "r")


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # fresh, inside a transaction
        cursor.execute(
            "SELECT COUNT(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]
