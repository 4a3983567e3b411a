"""The minute reconciler: a delivery whose message was lost is sent again, once per sweep
however many sweeps overlap; a run that died after claiming is settled as unknown, never sent
again; a broadcast that stopped advancing is resumed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.notifications.models import Broadcast, Notification, Status
from apps.notifications.services import notifications_reconcile, notify
from apps.ops.models import Batch
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db

CONTEXT = {"operator": "Op", "package": "1 hour", "reference": "R"}


def sms(age: timedelta, **fields) -> Notification:
    (row,) = notify(member=MemberFactory(), kind="provisioning_delayed", context=CONTEXT)
    Notification.objects.filter(pk=row.pk).update(created_at=timezone.now() - age, **fields)
    row.refresh_from_db()
    return row


def test_a_lost_delivery_is_sent_again_once(queued, settings, django_capture_on_commit_callbacks):
    settings.NOTIFY_NUDGE_AFTER = 600
    lost = sms(timedelta(minutes=11))
    sms(timedelta(minutes=5))  # still within its retries' time: left alone
    queued_before = queued()

    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_reconcile()["nudged"] == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_reconcile()["nudged"] == 0  # nudged just now

    sent = [q for q in queued() if q not in queued_before]
    # marked as a second copy: it checks its row before it spends a pacing token
    again = {"notification_id": str(lost.pk), "again": "1"}
    assert sent == [("notifications", "tasks.notifications.deliver_sms", again)]


def test_a_run_that_died_after_claiming_is_settled_unknown(settings):
    settings.NOTIFY_NUDGE_AFTER = 600
    old = timezone.now() - timedelta(minutes=11)
    stuck = sms(timedelta(minutes=11), status=Status.SENDING, claimed_at=old)
    busy = sms(timedelta(minutes=1), status=Status.SENDING, claimed_at=timezone.now())

    assert notifications_reconcile()["unknown"] == 1
    stuck.refresh_from_db()
    busy.refresh_from_db()
    assert (stuck.status, busy.status) == (Status.UNKNOWN, Status.SENDING)
    assert "may have been sent" in stuck.error


def test_a_stalled_broadcast_is_resumed(queued, settings, django_capture_on_commit_callbacks):
    settings.NOTIFY_NUDGE_AFTER = 600
    stalled = Broadcast.objects.create(kind="commission_rate_changed", title="t", total=5)
    Broadcast.objects.filter(pk=stalled.pk).update(
        updated_at=timezone.now() - timedelta(minutes=11)
    )
    Broadcast.objects.create(kind="commission_rate_changed", title="fresh", total=5)
    Broadcast.objects.create(
        kind="commission_rate_changed", title="done", state=Broadcast.State.FINISHED
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_reconcile()["broadcasts"] == 1
    assert queued() == [
        (
            "notifications",
            "tasks.notifications.advance_broadcast",
            {"broadcast_id": str(stalled.pk)},
        )
    ]


def test_a_lost_delivery_of_a_batch_is_sent_again_as_the_same_job(
    queued, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_NUDGE_AFTER = 600
    batch = Batch.objects.create(name="broadcast", total=1, pending=1)
    lost = sms(timedelta(minutes=11), batch_id=batch.pk)

    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_reconcile()["nudged"] == 1

    ((queue, task, kwargs, header, task_id),) = queued(batch=True)
    assert (queue, task) == ("notifications", "tasks.notifications.deliver_sms")
    assert kwargs == {"notification_id": str(lost.pk), "again": "1"}
    # Counted as the job it stands in for; a task id of its own, so it claims the row as itself.
    assert header == {"id": str(batch.pk), "job": f"notification-{lost.pk}"}
    assert task_id != header["job"]


def test_a_stalled_broadcast_of_a_batch_is_resumed_as_its_writer_job(
    queued, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_NUDGE_AFTER = 600
    batch = Batch.objects.create(name="broadcast", total=1, pending=1)
    stalled = Broadcast.objects.create(
        kind="commission_rate_changed", title="t", total=5, batch_id=batch.pk
    )
    Broadcast.objects.filter(pk=stalled.pk).update(
        updated_at=timezone.now() - timedelta(minutes=11)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications_reconcile()["broadcasts"] == 1
    ((_, task, kwargs, header, _),) = queued(batch=True)
    assert (task, kwargs) == (
        "tasks.notifications.advance_broadcast",
        {"broadcast_id": str(stalled.pk)},
    )
    assert header == {"id": str(batch.pk), "job": f"broadcast-{stalled.pk}"}


def test_the_sends_of_a_cancelled_batch_are_ended_not_sent_again(
    queued, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_NUDGE_AFTER = 600
    batch = Batch.objects.create(name="broadcast", total=2, pending=2, cancelled_at=timezone.now())
    row = sms(timedelta(minutes=11), batch_id=batch.pk)
    broadcast = Broadcast.objects.create(
        kind="commission_rate_changed", title="t", total=5, batch_id=batch.pk
    )
    Broadcast.objects.filter(pk=broadcast.pk).update(
        updated_at=timezone.now() - timedelta(minutes=11)
    )
    with django_capture_on_commit_callbacks(execute=True):
        done = notifications_reconcile()
    assert (done["nudged"], done["broadcasts"], done["cancelled"]) == (0, 0, 2)
    assert queued() == []
    row.refresh_from_db()
    broadcast.refresh_from_db()
    assert (row.status, row.error) == (Status.FAILED, "not sent: its batch was cancelled")
    assert broadcast.state == Broadcast.State.FINISHED
