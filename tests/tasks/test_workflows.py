"""Unique jobs, non-overlapping runs and max exceptions under real prefork workers: the locks
live in the suite's Redis, the runs in worker processes."""

import json
import time

import pytest

from apps.ops import locks
from apps.ops.models import FailedTask
from devstack.processes import wait_for
from tests.support import probes
from tests.support.workers import ProbeWorker, broker_holds, kill

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pool(tmp_path):
    """Two children on payments, so two runs can overlap; per test, so that no other worker
    consumes payments while the lock-holder test kills its own."""
    process = ProbeWorker(tmp_path, ["payments"], concurrency=2).start()
    yield process
    process.stop()


def settled(redis_client, *ids: str) -> None:
    wait_for(
        lambda: not any(broker_holds(redis_client, i) for i in ids),
        timeout=30,
        what="every message acknowledged",
    )


def test_a_second_enqueue_of_a_unique_job_is_dropped_while_the_first_waits_or_runs(
    pool, empty_queues, redis_client, key, caplog
):
    first = probes.unique_block.delay(key)
    second = probes.unique_block.delay(key)  # waiting: dropped
    assert second.id == first.id  # the caller gets the job that is there
    wait_for(lambda: redis_client.get(f"{key}:started"), what="the unique job to run")
    third = probes.unique_block.delay(key)  # running: dropped
    assert third.id == first.id
    other = probes.unique_block.delay(f"{key}:other")  # another key is another job
    assert other.id != first.id

    redis_client.set(f"{key}:release", 1)
    redis_client.set(f"{key}:other:release", 1)
    settled(redis_client, first.id, other.id)
    assert redis_client.get(f"{key}:started") == "1"
    assert caplog.text.count("task.unique_dropped") == 2

    # Ended: the lock was freed before the message was acknowledged; the next is a new job.
    assert probes.unique_block.delay(key).id != first.id
    wait_for(lambda: redis_client.get(f"{key}:started") == "2", what="the next job")


def test_an_overlapping_run_is_released_and_runs_once_the_first_has_ended(
    pool, empty_queues, redis_client, key
):
    first = probes.overlapping.delay(key, hold=1.0)
    wait_for(lambda: redis_client.get(f"{key}:pid"), what="the first run to hold the lock")
    second = probes.overlapping.delay(key)
    wait_for(lambda: redis_client.llen(key) == 2, timeout=30, what="both runs")
    settled(redis_client, first.id, second.id)

    one, two = (json.loads(r) for r in redis_client.lrange(key, 0, -1))
    assert one["id"] == first.id and two["id"] == second.id
    assert two["start"] >= one["end"]  # never at once
    # Released, not failed, and a release is no attempt.
    assert two["releases"] >= 1 and two["retries"] == 0
    assert not FailedTask.objects.exists()
    assert "task.overlapping" in pool.log()
    assert locks.holder(f"overlap:probe {key}") is None  # freed at the end


def test_a_lock_whose_holder_was_killed_is_taken_over_after_its_ttl(
    tmp_path, empty_queues, redis_client, key
):
    doomed = ProbeWorker(tmp_path, ["payments"]).start()
    try:
        probes.overlapping.delay(key, hold=30)
        wait_for(lambda: redis_client.get(f"{key}:pid"), what="the holder to run")
        holder = locks.holder(f"overlap:probe {key}")
        ttl = redis_client.pttl(f"lock:overlap:probe {key}") / 1000
        kill(doomed)
        killed_at = time.time()
    finally:
        doomed.stop()
    assert holder is not None and 0 < ttl <= 7

    heir = ProbeWorker(tmp_path, ["payments"]).start()
    try:
        taker = probes.overlapping.delay(key)
        wait_for(lambda: redis_client.llen(key) == 1, timeout=30, what="the heir to run")
        (record,) = (json.loads(r) for r in redis_client.lrange(key, 0, -1))
        assert record["id"] == taker.id
        assert record["start"] >= killed_at + ttl - 0.5  # not before the TTL ran out
        assert record["releases"] >= 1
    finally:
        heir.stop()


def test_max_exceptions_fails_a_job_before_its_attempts_run_out(
    pool, empty_queues, redis_client, key
):
    result = probes.exceptional.delay(key)
    row = wait_for(lambda: FailedTask.objects.filter(task_id=result.id).first(), what="the failure")
    assert redis_client.llen(f"{key}:attempts") == 2  # max_exceptions, not attempts (5)
    assert (row.attempts, row.reason) == (2, FailedTask.Reason.EXHAUSTED)
