"""Admin events: stored, and published on Redis's admin-notifications once committed."""

import json

import pytest

from apps.ops.models import AdminEvent
from apps.ops.services import ADMIN_CHANNEL, event_emit
from devstack.processes import wait_for

pytestmark = pytest.mark.django_db


def test_an_event_is_stored_and_published_after_commit(
    redis_client, django_capture_on_commit_callbacks
):
    subscriber = redis_client.pubsub()
    subscriber.subscribe(ADMIN_CHANNEL)
    wait_for(lambda: subscriber.get_message(timeout=0.1), what="the subscription")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        event = event_emit(
            type=AdminEvent.Type.PAYMENT_PROCESSED,
            payload={"payment": {"id": "p-1", "amount": "50.00"}},
        )
        assert subscriber.get_message(timeout=0.2) is None  # nothing before the commit
    for callback in callbacks:
        callback()

    message = wait_for(lambda: subscriber.get_message(timeout=0.2), what="the published event")
    body = json.loads(message["data"])
    assert body["type"] == "payment_processed" and body["id"] == event.pk
    assert body["payment"] == {"id": "p-1", "amount": "50.00"}
    assert body["timestamp"] == event.created_at.isoformat()
    subscriber.close()
