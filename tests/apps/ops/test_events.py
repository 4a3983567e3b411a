"""Domain events and their queued listeners: the registry covers every event, and under a
real worker each listener runs as its own task after commit, once per event, failing alone."""

import pytest
from django.db import transaction

from apps.ops.models import AdminEvent, FailedTask
from apps.ops.services import event_emit
from config import events
from config.celery import app
from devstack.processes import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_event_has_its_listeners_listed_and_each_is_a_task():
    app.loader.import_default_modules()
    assert set(events.LISTENERS) == set(AdminEvent.Type.values)
    for listeners in events.LISTENERS.values():
        for name in listeners:
            assert name in app.tasks, name
            assert name.startswith("tasks."), name  # routed to the queue its module names


@pytest.mark.slow
def test_listeners_run_after_commit_once_each_and_fail_on_their_own(
    worker, empty_queues, redis_client, monkeypatch
):
    monkeypatch.setitem(
        events.LISTENERS,
        AdminEvent.Type.QUEUE_BUSY,
        ("tests.support.probes.listener", "tests.support.probes.failing_listener"),
    )
    with transaction.atomic():
        event = event_emit(type=AdminEvent.Type.QUEUE_BUSY, payload={"queue": "default"})
        rolled_back = None
        try:
            with transaction.atomic():
                rolled_back = event_emit(type=AdminEvent.Type.QUEUE_BUSY, payload={})
                raise RuntimeError("undo")
        except RuntimeError:
            pass
    failed = wait_for(lambda: FailedTask.objects.first(), what="the failing listener")
    assert failed.task_id == f"event-{event.pk}-failing_listener"
    assert failed.kwargs == {"event_id": str(event.pk)}
    ran = wait_for(lambda: redis_client.lrange(f"listener:{event.pk}", 0, -1), what="the listener")
    assert ran == [f"event-{event.pk}-listener"]  # ran, despite its neighbour's failure
    assert not redis_client.exists(f"listener:{rolled_back.pk}")  # rolled back: never sent
