"""Domain events and their queued listeners: the registry covers every event, and under a
real worker each listener runs as its own task after commit, once per event, failing alone."""

import inspect

import pytest
from django.db import transaction

from apps.ops.models import AdminEvent, FailedTask
from apps.ops.selectors import admin_event_payload
from apps.ops.services import event_emit, events_reconcile
from config import events
from config.celery import app
from devstack.processes import wait_for
from tests.support.outage import broker_away

pytestmark = pytest.mark.django_db(transaction=True)

LISTENER = "tests.support.probes.listener"


def test_every_event_has_its_listeners_listed_and_each_is_a_task():
    app.loader.import_default_modules()
    assert set(events.LISTENERS) == set(AdminEvent.Type.values)
    for listeners in events.LISTENERS.values():
        for name in listeners:
            assert name in app.tasks, name
            assert name.startswith("tasks."), name  # routed to the queue its module names
            # Sent with the event's payload; a message from before payloads reads the row.
            params = inspect.signature(app.tasks[name].run).parameters
            assert list(params)[:2] == ["event_id", "payload"], name
            assert params["payload"].default is None, name


def test_a_listener_reads_the_payload_it_was_sent_else_the_events_else_none():
    event = event_emit(type=AdminEvent.Type.QUEUE_BUSY, payload={"queue": "default"})
    sent = {"queue": "payments"}
    assert admin_event_payload(event_id=event.pk, payload=sent) is sent
    assert admin_event_payload(event_id=event.pk) == {"queue": "default"}
    event.delete()
    assert admin_event_payload(event_id=event.pk) is None


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
    assert failed.kwargs == {"event_id": str(event.pk), "payload": {"queue": "default"}}
    assert failed.tags == f" event:{event.pk} queue:default "  # found by the event's tags too
    ran = wait_for(lambda: redis_client.lrange(f"listener:{event.pk}", 0, -1), what="the listener")
    assert ran == [f"event-{event.pk}-listener"]  # ran, despite its neighbour's failure
    assert not redis_client.exists(f"listener:{rolled_back.pk}")  # rolled back: never sent


@pytest.mark.slow
def test_a_listener_the_broker_did_not_take_is_sent_once_by_the_reconciler(
    worker, empty_queues, redis_client, monkeypatch, tmp_path
):
    monkeypatch.setitem(events.LISTENERS, AdminEvent.Type.QUEUE_BUSY, (LISTENER,))
    sent = event_emit(type=AdminEvent.Type.QUEUE_BUSY, payload={"queue": "default"})
    with broker_away(tmp_path):
        lost = event_emit(type=AdminEvent.Type.QUEUE_BUSY, payload={"queue": "payments"})
    assert AdminEvent.objects.get(pk=sent.pk).unsent == []  # taken at commit
    assert AdminEvent.objects.get(pk=lost.pk).unsent == [LISTENER]  # the outbox keeps it

    assert events_reconcile() == 0  # too fresh: its on-commit send may still be on its way
    assert events_reconcile(older_than=0) == 1
    assert events_reconcile(older_than=0) == 0
    assert AdminEvent.objects.get(pk=lost.pk).unsent == []
    for event in (sent, lost):
        ran = wait_for(lambda e=event: redis_client.lrange(f"listener:{e.pk}", 0, -1), what="it")
        assert ran == [f"event-{event.pk}-listener"]


def test_the_reconciler_leaves_the_outbox_as_it_was_while_the_broker_is_away(monkeypatch, tmp_path):
    monkeypatch.setitem(events.LISTENERS, AdminEvent.Type.QUEUE_BUSY, (LISTENER,))
    with broker_away(tmp_path):
        event = event_emit(type=AdminEvent.Type.QUEUE_BUSY, payload={})
        assert events_reconcile(older_than=0) == 0
    assert AdminEvent.objects.get(pk=event.pk).unsent == [LISTENER]
