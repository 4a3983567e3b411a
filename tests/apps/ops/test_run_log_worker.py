"""The run log through a real worker: a job that succeeds on its third attempt shows all three,
found by task, tag, id and outcome; an entity's timeline orders its runs across queues, and
takes the tags a message carries (an event's listeners carry the event's)."""

import uuid

import pytest

from apps.ops import runs
from apps.ops.models import AdminEvent
from apps.ops.services import event_emit
from config import events
from devstack.processes import wait_for
from tests.support.probes import flaky, overrun, touch

pytestmark = pytest.mark.django_db(transaction=True)


def _ended(task_id: str, outcome: str) -> dict:
    def job():
        found = runs.job_get(task_id=task_id)
        return found if found and found["outcome"] == outcome else None

    return wait_for(job, timeout=60, what=f"job {task_id} {outcome}")


def test_a_job_that_succeeds_on_its_third_attempt_shows_each_attempt(worker, key, staff_client):
    payment = uuid.uuid4().hex
    job_id = flaky.delay(key, payment_id=payment).id
    job = _ended(job_id, "succeeded")

    assert [(r["attempt"], r["attempts"], r["outcome"]) for r in job["runs"]] == [
        (1, 5, "retried"),
        (2, 5, "retried"),
        (3, 5, "succeeded"),
    ]
    first, *_, last = job["runs"]
    assert "TransientError: probe" in first["error"] and "attempt 1 fails" in first["error"]
    assert last["error"] == ""
    assert {r["worker"] for r in job["runs"]} == {worker.name}
    assert {r["queue"] for r in job["runs"]} == {"payments"}
    assert all(r["wait"] is not None and r["duration"] is not None for r in job["runs"])
    # The second attempt waited out its backoff: it started after the first ended.
    assert job["runs"][1]["started"] > first["started"] + first["duration"]
    assert job["tags"] == [f"payment:{payment}"]

    searches = [
        f"task={flaky.name}",
        f"task=probes.fla&tag=payment:{payment}",
        f"tag=payment:{payment}",
        f"id={job_id}",
        f"outcome=retried&tag=payment:{payment}",
        f"outcome=succeeded&task={flaky.name}",
    ]
    for search in searches:
        found = staff_client.get(f"/admin/ops/jobs/data/?{search}").json()["jobs"]
        assert job_id in [j["id"] for j in found], search
        shown = next(j for j in found if j["id"] == job_id)
        assert (shown["attempt"], shown["attempts"], shown["outcome"]) == (3, 5, "succeeded")
    found = staff_client.get(f"/admin/ops/jobs/data/?outcome=failed&tag=payment:{payment}")
    assert found.json()["jobs"] == []


def test_a_timeline_orders_an_entitys_runs_across_queues(worker, key, staff_client):
    payment = uuid.uuid4().hex
    sent = []
    for queue, fail in (("payments", False), ("provisioning", False), ("default", True)):
        result = touch.apply_async(
            kwargs={"key": key, "payment_id": payment, "fail": fail}, queue=queue
        )
        _ended(result.id, "failed" if fail else "succeeded")
        sent.append(result.id)
    other = touch.apply_async(kwargs={"key": key, "payment_id": uuid.uuid4().hex})
    _ended(other.id, "succeeded")

    body = staff_client.get(f"/admin/ops/timeline/data/?tag=payment:{payment}").json()
    timeline = body["runs"]
    assert [r["task_id"] for r in timeline] == sent  # another payment's run is not there
    assert [r["queue"] for r in timeline] == ["payments", "provisioning", "default"]
    assert [r["outcome"] for r in timeline] == ["succeeded", "succeeded", "failed"]
    assert {r["task"] for r in timeline} == {touch.name}
    assert {r["worker"] for r in timeline} == {worker.name}
    failed = timeline[-1]
    assert failed["error"].startswith("ValueError: probe") and failed["error"].endswith("for good")
    # A final failure keeps the times of the run it ended (recorded where the failure is).
    assert failed["duration"] is not None and failed["wait"] is not None
    assert (failed["attempt"], failed["attempts"]) == (1, 3)
    assert body["truncated"] is False


def test_a_run_the_hard_time_limit_ended_is_logged_by_the_workers_main_process(worker, key):
    job = _ended(overrun.delay(key).id, "failed")
    (run,) = job["runs"]
    assert run["error"].startswith("TimeLimitExceeded")
    assert (run["attempt"], run["worker"]) == (1, worker.name)


def test_tags_a_message_carries_index_its_runs_through_retries(worker, key):
    member = uuid.uuid4().hex
    result = flaky.apply_async(
        kwargs={"key": key, "failures": 1}, headers={"tags": [f"member:{member}"]}
    )
    _ended(result.id, "succeeded")

    timeline = runs.timeline(tags=[f"member:{member}"])["runs"]
    assert [(r["task_id"], r["attempt"], r["outcome"]) for r in timeline] == [
        (result.id, 1, "retried"),
        (result.id, 2, "succeeded"),
    ]


def test_an_events_listeners_run_on_the_events_timeline(worker, monkeypatch):
    payment = uuid.uuid4().hex
    listener = "tests.support.probes.listener"
    monkeypatch.setitem(events.LISTENERS, AdminEvent.Type.QUEUE_BUSY, (listener,))
    event = event_emit(type=AdminEvent.Type.QUEUE_BUSY, payload={"payment_id": payment})

    job = _ended(f"event-{event.pk}-listener", "succeeded")
    assert job["task"] == listener and f"payment:{payment}" in job["tags"]
    assert [r["task_id"] for r in runs.timeline(tags=[f"payment:{payment}"])["runs"]] == [job["id"]]
