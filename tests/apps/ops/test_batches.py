"""Batches under two real worker pools (as on two hosts) sharing Redis and the database:
every job's final outcome counted once, each callback decided once."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.common.errors import ApplicationError
from apps.ops.batches import batch_add, batch_cancel, batch_dispatch
from apps.ops.models import Batch, BatchJob, FailedTask
from devstack.processes import wait_for
from tests.support import probes
from tests.support.workers import ProbeWorker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def two_pools(django_db_setup, django_db_blocker, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("batches")
    pools = [ProbeWorker(log_dir, ["payments"], concurrency=2) for _ in range(2)]
    for pool in pools:
        pool.start()
    yield pools
    for pool in pools:
        pool.stop()


def callbacks(key: str) -> dict:
    return {
        "then": probes.callback.si(key, "then"),
        "catch": probes.callback.si(key, "catch"),
        "finally_": probes.callback.si(key, "finally"),
    }


def finished(batch: Batch, redis_client, key: str) -> Batch:
    wait_for(lambda: redis_client.llen(f"{key}:finally"), timeout=120, what="finally")
    batch.refresh_from_db()
    return batch


def fired(redis_client, key: str) -> dict[str, list[str]]:
    return {w: redis_client.lrange(f"{key}:{w}", 0, -1) for w in ("then", "catch", "finally")}


def test_a_thousand_jobs_with_failures_catch_once_finally_once_then_never(
    two_pools, empty_queues, redis_client, key
):
    failing = {100, 500, 900}
    jobs = [probes.batch_job.si(key, n, fail=n in failing) for n in range(1000)]
    batch = batch_dispatch(name="thousand", jobs=jobs, **callbacks(key))

    batch = finished(batch, redis_client, key)
    wait_for(lambda: redis_client.llen(f"{key}:catch"), what="catch")
    assert fired(redis_client, key) == {
        "then": [],
        "catch": [str(batch.pk)],
        "finally": [str(batch.pk)],
    }
    # The first failure cancelled the batch: the jobs that had not started skipped themselves.
    assert batch.cancelled_at is not None and batch.finished_at is not None
    assert (batch.total, batch.pending, batch.progress) == (1000, 0, 100)
    states = dict(BatchJob.objects.filter(batch=batch).values_list("job_id", "state"))
    ran = {int(n) for n in redis_client.lrange(f"{key}:ran", 0, -1)}
    skipped = [j for j, s in states.items() if s == BatchJob.State.SKIPPED]
    assert len(ran) + len(skipped) == 1000
    assert batch.failed == len(batch.failed_job_ids) >= 1
    assert set(batch.failed_job_ids) == set(FailedTask.objects.values_list("task_id", flat=True))


def test_allow_failures_runs_every_job_and_then_runs_after_the_failed_are_retried(
    two_pools, empty_queues, redis_client, key
):
    failing = {3, 500, 997}
    jobs = [probes.batch_job.si(key, n, fail=n in failing) for n in range(1000)]
    batch = batch_dispatch(name="lenient", jobs=jobs, allow_failures=True, **callbacks(key))

    batch = finished(batch, redis_client, key)
    assert redis_client.llen(f"{key}:ran") == 1000
    assert (batch.failed, batch.cancelled_at) == (3, None)
    assert fired(redis_client, key) == {
        "then": [],
        "catch": [str(batch.pk)],
        "finally": [str(batch.pk)],
    }

    redis_client.set(f"{key}:heal", 1)
    call_command("queue_retry_batch", str(batch.pk))
    wait_for(lambda: redis_client.llen(f"{key}:then"), what="then, once every job succeeded")
    batch.refresh_from_db()
    assert (batch.failed, batch.failed_job_ids) == (0, [])
    assert fired(redis_client, key)["then"] == [str(batch.pk)]
    assert len(fired(redis_client, key)["finally"]) == 1
    assert not FailedTask.objects.exists()


def test_the_last_two_jobs_ending_together_fire_finally_once(
    two_pools, empty_queues, redis_client, key
):
    for round_ in range(15):
        gate = f"{key}:{round_}"
        jobs = [probes.batch_gate.si(gate, n) for n in range(4)]
        batch = batch_dispatch(jobs=jobs, **callbacks(gate))
        wait_for(lambda g=gate: redis_client.get(f"{g}:started") == "4", what="four at once")
        redis_client.set(f"{gate}:go", 1)  # all four end together, on two pools
        finished(batch, redis_client, gate)
        wait_for(lambda g=gate: redis_client.llen(f"{g}:then"), what="then")
        assert fired(redis_client, gate) == {
            "then": [str(batch.pk)],
            "catch": [],
            "finally": [str(batch.pk)],
        }, round_


def test_cancel_mid_way_skips_the_jobs_not_started(two_pools, empty_queues, redis_client, key):
    jobs = [probes.batch_gate.si(key, n) for n in range(40)]
    batch = batch_dispatch(jobs=jobs, **callbacks(key))
    wait_for(lambda: redis_client.get(f"{key}:started") == "4", what="four running")
    batch_cancel(batch_id=batch.pk)
    redis_client.set(f"{key}:go", 1)

    batch = finished(batch, redis_client, key)
    assert redis_client.llen(f"{key}:ran") == 4  # the four running finished; the rest skipped
    assert BatchJob.objects.filter(batch=batch, state=BatchJob.State.SKIPPED).count() == 36
    assert fired(redis_client, key)["then"] == []
    with pytest.raises(ApplicationError, match="has finished"):
        batch_cancel(batch_id=batch.pk)
    with pytest.raises(ApplicationError, match="finished"):
        batch_add(batch_id=batch.pk, jobs=[probes.batch_job.si(key, 99)])


def test_jobs_added_to_a_running_batch_are_waited_for(two_pools, empty_queues, redis_client, key):
    batch = batch_dispatch(jobs=[probes.batch_gate.si(key, 0)], **callbacks(key))
    wait_for(lambda: redis_client.get(f"{key}:started") == "1", what="the first job")
    batch = batch_add(batch_id=batch.pk, jobs=[probes.batch_job.si(key, n) for n in (1, 2)])
    assert (batch.total, batch.pending) == (3, 3)
    redis_client.set(f"{key}:go", 1)
    batch = finished(batch, redis_client, key)
    assert sorted(redis_client.lrange(f"{key}:ran", 0, -1)) == ["0", "1", "2"]
    assert (batch.pending, batch.failed, batch.progress) == (0, 0, 100)


def test_a_hard_time_limit_and_a_lost_worker_are_final_outcomes(
    two_pools, empty_queues, redis_client, key
):
    jobs = [probes.overrun.si(f"{key}:o"), probes.crash.si(f"{key}:c")]
    batch = batch_dispatch(jobs=jobs, allow_failures=True, **callbacks(key))
    batch = finished(batch, redis_client, key)
    assert batch.failed == 2
    reasons = set(FailedTask.objects.values_list("reason", flat=True))
    assert reasons == {FailedTask.Reason.TIME_LIMIT, FailedTask.Reason.WORKER_LOST}


def test_a_failing_callback_is_a_failed_task_that_can_be_retried(
    two_pools, empty_queues, redis_client, key
):
    batch = batch_dispatch(
        jobs=[probes.batch_job.si(key, 1)], finally_=probes.callback.si(key, "finally", fail=True)
    )
    row = wait_for(
        lambda: FailedTask.objects.filter(task_id=f"{batch.pk}-finally").first(),
        what="the failed callback",
    )
    assert row.kwargs == {"fail": True, "batch": str(batch.pk)}

    redis_client.set(f"{key}:heal", 1)
    call_command("queue_retry", str(row.pk))
    wait_for(lambda: redis_client.llen(f"{key}:finally") == 2, what="the retried callback")
    assert not FailedTask.objects.exists()


def test_batch_commands_list_prune_and_refuse_bad_ids(two_pools, empty_queues, redis_client, key):
    batch = batch_dispatch(name="listed", jobs=[probes.batch_job.si(key, 1)], **callbacks(key))
    finished(batch, redis_client, key)
    out = io.StringIO()
    call_command("queue_batches", "--json", stdout=out)
    (row,) = json.loads(out.getvalue())
    assert (row["id"], row["name"], row["progress"], row["failed"]) == (
        str(batch.pk),
        "listed",
        100,
        0,
    )
    call_command("queue_batches", stdout=(table := io.StringIO()))
    assert "listed" in table.getvalue() and "100" in table.getvalue()

    with pytest.raises(CommandError, match="is not a batch id"):
        call_command("queue_retry_batch", "nope")
    with pytest.raises(CommandError, match="No batch with id"):
        call_command("queue_retry_batch", "00000000-0000-0000-0000-000000000000")

    call_command("queue_prune_batches", "--hours", "1", stdout=(kept := io.StringIO()))
    assert "0" in kept.getvalue() and Batch.objects.filter(pk=batch.pk).exists()
    call_command("queue_prune_batches", "--hours", "0", stdout=io.StringIO())
    assert not Batch.objects.exists() and not BatchJob.objects.exists()


def test_a_callback_that_cannot_take_the_batch_is_refused_at_dispatch(key):
    with pytest.raises(ApplicationError, match="is called with batch="):
        batch_dispatch(jobs=[probes.batch_job.si(key, 1)], finally_=probes.listener.si())
    assert not Batch.objects.exists() and not BatchJob.objects.exists()
