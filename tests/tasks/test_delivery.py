"""The shared Task class under a real prefork worker: retries, backoff, failures, crashes.

The worker's backoff is the queue table's scaled by tests.support.workers.BACKOFF_SCALE; the
probes route to payments (3 attempts, backoff 10 s then 30 s, scaled to 0.5 s then 1.5 s).
"""

import itertools
import json
import os
import signal

import pytest
from django.core.management import call_command

from apps.ops.models import FailedTask
from config import queues
from devstack.processes import wait_for
from tests.support import probes
from tests.support.workers import BACKOFF_SCALE, broker_holds, held

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = queues.policy("payments")


def failed_row(task_id: str, timeout: float = 30) -> FailedTask:
    return wait_for(
        lambda: FailedTask.objects.filter(task_id=task_id).first(),
        timeout=timeout,
        what=f"FailedTask {task_id}",
    )


def test_a_transient_failure_is_retried_with_backoff_then_recorded(worker, redis_client, key):
    result = probes.fail.delay(key)
    row = failed_row(result.id)

    attempts = [float(t) for t in redis_client.lrange(f"{key}:attempts", 0, -1)]
    assert len(attempts) == PAYMENTS.attempts == row.attempts == 3
    for retry, (earlier, later) in enumerate(itertools.pairwise(attempts), start=1):
        base = queues.backoff_delay(PAYMENTS.backoff, retry) * BACKOFF_SCALE
        gap = later - earlier
        assert base <= gap <= base * (1 + queues.BACKOFF_JITTER) + 1.0, (retry, gap)

    assert row.queue == "payments"
    assert row.task_name == "tests.support.probes.fail"
    assert row.args == [key]
    assert row.reason == FailedTask.Reason.EXHAUSTED
    assert row.exception_type == "apps.common.errors.TransientError"
    assert row.exception_message == f"probe {key} fails"
    assert "TransientError" in row.traceback and "probes.py" in row.traceback
    assert row.hostname == worker.name


def test_a_permanent_error_is_recorded_at_once(worker, redis_client, key):
    result = probes.fail.delay(key, transient=False)
    row = failed_row(result.id)
    assert redis_client.llen(f"{key}:attempts") == 1
    assert (row.attempts, row.reason) == (1, FailedTask.Reason.ERROR)
    assert row.exception_type == "builtins.ValueError"
    assert row.kwargs == {"transient": False}


def test_queue_retry_runs_a_failed_task_again_on_its_own_queue(worker, redis_client, key):
    result = probes.fail.delay(key, transient=False)
    row = failed_row(result.id)
    redis_client.set(f"{key}:heal", 1)

    call_command("queue_retry", str(row.pk))

    assert wait_for(lambda: redis_client.lrange(f"{key}:done", 0, -1), what="the rerun") == [
        "payments"
    ]
    assert not FailedTask.objects.filter(pk=row.pk).exists()
    assert FailedTask.objects.count() == 0


def test_the_hard_time_limit_kills_the_task_and_records_it_once(worker, redis_client, key):
    result = probes.overrun.delay(key)
    row = failed_row(result.id)

    assert row.reason == FailedTask.Reason.TIME_LIMIT
    assert row.exception_type == "billiard.exceptions.TimeLimitExceeded"
    assert row.attempts == 1
    # Not rerun: the message was acknowledged and nothing of it is left in Redis.
    wait_for(lambda: not broker_holds(redis_client, result.id), what="the message to be gone")
    follow_up = f"{key}:after"
    probes.record.delay(follow_up)
    wait_for(lambda: redis_client.llen(follow_up), what="the next task on the same pool")
    assert redis_client.get(f"{key}:started") == "1"
    assert redis_client.get(f"{key}:soft") == "1"
    assert redis_client.get(f"{key}:completed") is None
    assert FailedTask.objects.filter(task_id=result.id).count() == 1


def test_a_worker_child_killed_mid_task_reruns_it_to_completion_once(worker, redis_client, key):
    result = probes.block.delay(key)
    pid = int(wait_for(lambda: redis_client.get(f"{key}:pid"), what="the first run"))
    assert pid in worker.children()
    # In flight at the kill: started, not completed, its message delivered and not acked.
    assert result.id in {m.id for m in held(redis_client, "payments").values()}
    assert redis_client.get(f"{key}:completed") is None

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: redis_client.get(f"{key}:started") == "2", what="the rerun to start")
    assert redis_client.get(f"{key}:completed") is None
    redis_client.set(f"{key}:release", 1)

    wait_for(lambda: redis_client.get(f"{key}:completed") == "1", what="the rerun to complete")
    wait_for(lambda: not broker_holds(redis_client, result.id), what="the message to be acked")
    assert redis_client.get(f"{key}:completed") == "1"
    assert redis_client.get(f"{key}:started") == "2"
    assert not FailedTask.objects.filter(task_id=result.id).exists()


def test_a_task_that_kills_its_worker_every_time_ends_in_failed_tasks(worker, redis_client, key):
    result = probes.crash.delay(key)
    row = failed_row(result.id, timeout=60)
    assert row.reason == FailedTask.Reason.WORKER_LOST
    assert row.attempts == PAYMENTS.attempts
    assert redis_client.get(f"{key}:started") == str(PAYMENTS.attempts)
    wait_for(lambda: not broker_holds(redis_client, result.id), what="the message to be gone")


class Exploit:
    """Unpickling this creates a directory: proof that pickle ran."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_a_pickled_message_is_refused_and_never_executed(worker, redis_client, key, tmp_path):
    marker = tmp_path / "pickle-ran"
    from config.celery import app

    app.send_task(
        "tests.support.probes.record",
        args=[key, Exploit(str(marker))],
        queue="payments",
        serializer="pickle",
    )
    probes.record.delay(f"{key}:json")

    wait_for(lambda: redis_client.llen(f"{key}:json"), what="the JSON task after it")
    assert json.loads(redis_client.lindex(f"{key}:json", 0))["queue"] == "payments"
    assert redis_client.llen(key) == 0
    assert not marker.exists()
    assert "Refusing to deserialize untrusted content of type pickle" in worker.log()
    assert redis_client.llen("payments") == 0
