"""Sweep digests through real workers: a run beat starts goes on in new tasks under one run
id, and once it finishes each member it credited gets one digest for all of it, written by
the maturation queue (heavy batches) in chunks and tasks of its own; an SMS among them is
delivered by the notifications queue, each send a job of the run's digest batch."""

import re

import pytest
from django.db.models import Count

from apps.commissions.audit import ledger_audit
from apps.notifications.models import Channel, Notification, Preference, Status
from apps.ops.models import Batch
from apps.wallets.models import SweepCredit
from devstack.processes import wait_for
from tasks.commissions import disburse_commissions
from tasks.maturation import mature_balances
from tests.apps.wallets.test_sweep_digests import (
    AMOUNT,
    commissions_pending,
    earnings_due,
)
from tests.support.factories import MemberFactory
from tests.support.workers import ProbeWorker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DIGEST_SWEEP = {
    "commissions_credited": "commissions.disburse",
    "earnings_matured": "maturation.mature",
}


@pytest.mark.parametrize(
    ("task", "queue", "make", "kind"),
    [
        (disburse_commissions, "commissions", commissions_pending, "commissions_credited"),
        (mature_balances, "maturation", earnings_due, "earnings_matured"),
    ],
    ids=["disbursement", "maturation"],
)
def test_a_run_over_many_tasks_ends_with_one_digest_per_member(
    task, queue, make, kind, tmp_path, empty_queues
):
    members = [MemberFactory(name=f"M{n}") for n in range(5)]
    Preference.objects.create(member=members[0], sms=True)
    counts = dict(zip(members, [1, 2, 3, 4, 5], strict=True))
    make(counts)
    # Chunks of 2 and budget 0: 15 rows take 8 sweep tasks, one chunk each; the digest folds
    # a chunk per task (8), then tells 2 members per task (3).
    env = {"SWEEP_CHUNK_ROWS": "2", "TASK_BUDGET_SHARE": "0", "NOTIFY_CHUNK": "2"}
    queues = sorted({queue, "maturation", "notifications"})
    worker = ProbeWorker(tmp_path, queue_names=queues, env=env).start()
    try:
        first = task.delay()
        wait_for(lambda: told(kind) == len(members), timeout=60, what="every member's digest")
        sms = Notification.objects.get(kind=kind, channel=Channel.SMS)
        wait_for(lambda: status(sms) == Status.SENT, timeout=30, what="the SMS digest to be sent")
        # The digests are a batch: the writer (over its continuations) and the SMS, counted.
        batch = wait_for(
            lambda: Batch.objects.filter(finished_at__isnull=False).first(),
            what="the digest batch to finish",
        )
    finally:
        worker.stop()
    assert batch.name == f"Digests: {DIGEST_SWEEP[kind]} {first.id}"
    assert (batch.total, batch.pending, batch.failed) == (2, 0, 0)
    assert sorted(batch.jobs.values_list("task_name", flat=True)) == [
        "tasks.maturation.send_sweep_digests",
        "tasks.notifications.deliver_sms",
    ]

    log = worker.log()
    assert len(re.findall(rf"task\.finish id=\S+ name={task.name} ", log)) == 8
    digests = re.findall(r"task\.finish id=\S+ name=tasks\.maturation\.send_sweep_digests ", log)
    assert len(digests) == 8 + 3
    credits = SweepCredit.objects.all()
    assert {c.run for c in credits} == {first.id}  # one run, the first task's id
    assert {c.member_id: (c.rows, c.total) for c in credits} == {
        m.pk: (n, n * AMOUNT) for m, n in counts.items()
    }
    assert not credits.filter(notified_at__isnull=True).exists()
    per_member = Notification.objects.filter(kind=kind, channel=Channel.IN_APP).values("member_id")
    assert {row["n"] for row in per_member.annotate(n=Count("pk"))} == {1}
    assert f"KES {5 * AMOUNT}" in Notification.objects.get(member=members[4], kind=kind).body
    assert Notification.objects.filter(kind=kind).count() == len(members) + 1
    assert ledger_audit().ok


def told(kind: str) -> int:
    return Notification.objects.filter(kind=kind, channel=Channel.IN_APP).count()


def status(row: Notification) -> str:
    row.refresh_from_db()
    return row.status
