"""A broadcast's sends are an ops batch: its writer is the batch's first job, sent with the
batch's header; a cancelled batch stops the writer before its next chunk."""

import pytest

from apps.notifications.models import Broadcast, Notification
from apps.notifications.services import broadcast_advance, broadcast_start
from apps.ops.batches import batch_cancel
from apps.ops.models import Batch
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db

CONTEXT = {"level": 1, "old_rate": "10", "new_rate": "12.5"}


def start() -> Broadcast:
    return broadcast_start(kind="commission_rate_changed", context=CONTEXT, title="Rates")


def test_a_broadcast_starts_as_a_batch_whose_first_job_is_its_writer(
    queued, django_capture_on_commit_callbacks
):
    MemberFactory.create_batch(3)
    with django_capture_on_commit_callbacks(execute=True):
        broadcast = start()
    batch = Batch.objects.get(pk=broadcast.batch_id)
    assert (batch.name, batch.total, batch.pending) == (f"Broadcast {broadcast.pk}: Rates", 1, 1)
    assert batch.options["allow_failures"] is True
    ((_, task, kwargs, header, task_id),) = queued(batch=True)
    assert (task, kwargs) == (
        "tasks.notifications.advance_broadcast",
        {"broadcast_id": str(broadcast.pk)},
    )
    assert (
        header == {"id": str(batch.pk), "job": f"broadcast-{broadcast.pk}"}
        and task_id == header["job"]
    )


def test_a_cancelled_batch_stops_its_broadcast_before_the_next_chunk(
    queued, django_capture_on_commit_callbacks
):
    MemberFactory.create_batch(3)
    with django_capture_on_commit_callbacks(execute=True):
        broadcast = start()
    batch_cancel(batch_id=broadcast.batch_id)

    assert broadcast_advance(broadcast_id=broadcast.pk, budget_seconds=10) == (None, 0)
    broadcast.refresh_from_db()
    assert (broadcast.state, broadcast.done) == (Broadcast.State.FINISHED, 0)
    assert not Notification.objects.filter(key__startswith=f"broadcast:{broadcast.pk}:").exists()
