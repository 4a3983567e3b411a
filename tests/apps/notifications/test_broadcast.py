"""A commission rate changed in admin tells every active member: a broadcast written in chunks
on the notifications queue by a real worker, one notice each, its progress on the operations
page, the members who chose SMS texted at the simulator, each text a job of the broadcast's
batch."""

from decimal import Decimal

import pytest
from django.db.models import Count
from django.urls import reverse

from apps.accounts.models import Member
from apps.commissions.models import CommissionRate
from apps.notifications.models import Broadcast, Channel, Notification, Preference, Status
from apps.ops.models import Batch
from devstack.processes import wait_for
from tests.apps.notifications.conftest import at_env
from tests.support.workers import ProbeWorker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MEMBERS = 100_000
TEXTED = 20  # members who chose SMS as well


def members(count: int) -> None:
    Member.objects.bulk_create(
        (Member(phone=f"2541{n:08d}", password="!", name=f"M{n}") for n in range(count)),
        batch_size=5000,
    )
    chosen = Member.objects.order_by("pk")[:TEXTED]
    Preference.objects.bulk_create(Preference(member=m, sms=True) for m in chosen)


def change_rate(client, rate: CommissionRate, new: str):
    url = reverse("admin:commissions_commissionrate_change", args=[rate.pk])
    return client.post(url, {"level": rate.level, "rate": new, "is_active": "on"})


def test_a_rate_change_tells_every_member_once_with_progress(
    tmp_path, staff_client, sms_sim, settings, empty_queues
):
    settings.NOTIFY_CHUNK = 5000
    rate = CommissionRate.objects.get_or_create(level=1, defaults={"rate": Decimal("0.1000")})[0]
    members(MEMBERS)
    sms_sim.reset()
    worker = ProbeWorker(
        tmp_path,
        queue_names=["notifications"],
        concurrency=2,
        env=at_env(sms_sim, NOTIFY_CHUNK="5000"),
    ).start()
    try:
        answer = change_rate(staff_client, rate, "0.1250")
        assert answer.status_code == 302, answer.content[:500]
        # The rate_changed event's listener starts the broadcast, on the notifications queue.
        broadcast = wait_for(lambda: Broadcast.objects.first(), what="the listener's broadcast")
        assert broadcast.key.startswith("event:")
        wait_for(
            lambda: Broadcast.objects.get().state == Broadcast.State.FINISHED,
            timeout=240,
            what="the fan-out to finish",
        )
        sms_sim.wait_for_messages(TEXTED, timeout=60)
    finally:
        worker.stop()

    active = Member.objects.filter(is_active=True).count()
    broadcast.refresh_from_db()
    assert (broadcast.total, broadcast.done) == (active, active)
    notices = Notification.objects.filter(kind="commission_rate_changed")
    assert notices.filter(channel=Channel.IN_APP).count() == active
    assert not notices.values("member", "channel").annotate(n=Count("pk")).filter(n__gt=1)
    sample = notices.filter(channel=Channel.IN_APP).first()
    assert sample.body == "The commission rate for level 1 referrals changed from 10% to 12.5%."
    assert len(sms_sim.messages()) == TEXTED
    assert notices.filter(channel=Channel.SMS, status=Status.SENT).count() == TEXTED

    data = staff_client.get("/admin/ops/data/").json()
    (panel,) = [p for p in data["panels"] if p["name"] == "broadcasts"]
    assert panel["rows"][0][1:] == ["finished", active, active, 100.0]
    # Its sends were a batch: the writer and one job per SMS, all counted, on the ops page.
    batch = Batch.objects.get(pk=broadcast.batch_id)
    assert (batch.total, batch.pending, batch.failed) == (TEXTED + 1, 0, 0)
    assert batch.finished_at is not None and batch.cancelled_at is None
    (row,) = [b for b in data["batches"] if b["id"] == str(batch.pk)]
    assert (row["name"], row["progress"]) == (f"Broadcast {broadcast.pk}: {broadcast.title}", 100)


def test_saving_the_same_rate_tells_nobody(staff_client, empty_queues):
    rate = CommissionRate.objects.get_or_create(level=2, defaults={"rate": Decimal("0.0500")})[0]
    answer = change_rate(staff_client, rate, str(rate.rate))
    assert answer.status_code == 302
    assert not Broadcast.objects.exists()
