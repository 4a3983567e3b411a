"""Released and paced tasks under real prefork workers: two pools, as on two hosts, consume one
queue and share one bucket. A released task keeps its attempt, is no failure, holds no pool
slot while it waits, and the pools together keep to the bucket's rate."""

import bisect
import itertools
import json
import uuid

import pytest

from apps.ops import metrics
from apps.ops.models import FailedTask
from devstack.processes import wait_for
from tests.support import probes
from tests.support.workers import ProbeWorker, broker_holds

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SERIES = ("payments", "tests.support.probes.paced")


@pytest.fixture(scope="module")
def two_pools(django_db_setup, django_db_blocker, tmp_path_factory, redis_client):
    """Two worker processes of two children each, both consuming payments, warmed up: a
    child's first tasks are slower, and the rate is measured on pools that have been running."""
    log_dir = tmp_path_factory.mktemp("pools")
    pools = [ProbeWorker(log_dir, queue_names=["payments"], concurrency=2) for _ in range(2)]
    try:
        for pool in pools:
            pool.start()
        warm = f"warm:{uuid.uuid4().hex}"
        for _ in range(20):
            probes.paced.delay(warm, "200/1")
        gone(redis_client, warm, 20)
        yield pools
    finally:
        for pool in pools:
            pool.stop()


def gone(redis_client, key: str, count: int, timeout: float = 30) -> None:
    """Wait until ``count`` paced tasks have been let through."""
    wait_for(
        lambda: redis_client.llen(key) >= count,
        timeout=timeout,
        interval=0.05,
        what=f"{count} paced tasks to go",
    )


def settled(redis_client, ids: set[str]) -> None:
    """Wait until no message of ``ids`` is left in the broker, so none can run again."""
    wait_for(
        lambda: not any(broker_holds(redis_client, task_id) for task_id in ids),
        timeout=30,
        what="every message to be acknowledged",
    )


def records(redis_client, key: str) -> list[dict]:
    """What the paced tasks let through recorded, in the order they went."""
    return [json.loads(item) for item in redis_client.lrange(key, 0, -1)]


def test_a_released_task_keeps_its_attempt_and_is_no_failure(
    two_pools, empty_queues, redis_client, key
):
    released_before = metrics.counts().get((*SERIES, "released"), 0)
    # Slots 1.5 s apart: beyond the task's pace_hold (1 s), so each waits released.
    ids = {probes.paced.delay(key, "2/3").id for _ in range(3)}

    gone(redis_client, key, 3)
    settled(redis_client, ids)

    went = records(redis_client, key)
    assert sorted(record["id"] for record in went) == sorted(ids)
    assert [record["retries"] for record in went] == [0] * 3
    releases = sorted(record["releases"] for record in went)
    assert releases[0] == 0 and all(n >= 1 for n in releases[1:])  # one went at once
    assert int(redis_client.get(f"{key}:runs")) == 3 + sum(releases)
    assert not FailedTask.objects.filter(task_id__in=ids).exists()
    wait_for(  # the worker sends its metrics every few milliseconds, off the task's path
        lambda: metrics.counts().get((*SERIES, "released"), 0) - released_before == sum(releases),
        what="the releases counted",
    )
    assert metrics.counts().get((*SERIES, "failed"), 0) == 0
    logs = "".join(pool.log() for pool in two_pools)
    assert "task.released" in logs and "attempt=1/3 releases=1 countdown=" in logs


def test_a_released_task_waits_without_holding_a_pool_slot(
    two_pools, empty_queues, redis_client, key
):
    ids = {probes.paced.delay(key, "1/3").id for _ in range(2)}
    wait_for(lambda: redis_client.get(f"{key}:runs") == "2", what="one to go, one released")

    # While the released one waits for its slot, every child of both pools can take work.
    blockers = [f"{key}:block{i}" for i in range(4)]
    for blocker in blockers:
        probes.block.delay(blocker)
    wait_for(
        lambda: all(redis_client.get(f"{b}:started") for b in blockers),
        what="four blocking tasks running at once",
    )
    assert redis_client.llen(key) == 1
    for blocker in blockers:
        redis_client.set(f"{blocker}:release", 1)

    gone(redis_client, key, 2)
    settled(redis_client, ids)
    first, second = records(redis_client, key)
    assert second["at"] - first["at"] >= 3 - 0.005
    assert (first["releases"], second["releases"]) == (0, 1)


def test_two_pools_keep_to_a_shared_rate(two_pools, empty_queues, redis_client, key):
    rate, burst, n = 20, 1, 100
    ids = {probes.paced.delay(key, f"{rate}/1", burst).id for _ in range(n)}

    gone(redis_client, key, n, timeout=n / rate + 30)
    settled(redis_client, ids)

    went = records(redis_client, key)
    assert len(went) == n  # every task went exactly once
    assert {record["id"] for record in went} == ids
    assert {record["retries"] for record in went} == {0}
    times = sorted(record["at"] for record in went)
    observed = (n - 1) / (times[-1] - times[0])
    busiest = max(bisect.bisect_left(times, t + 1) - i for i, t in enumerate(times))
    runs = int(redis_client.get(f"{key}:runs")) / n
    figures = f"{observed:.2f}/s, {busiest} in the busiest second, {runs:.2f} runs per task"
    assert observed == pytest.approx(rate, rel=0.05), figures
    assert busiest <= rate + burst, figures
    # Slots a few intervals ahead are waited for in place: one run each, no release (a release
    # would come back behind the backlog, late for its slot).
    assert runs == 1, figures
    assert {record["releases"] for record in went} == {0}


def test_a_backlog_paced_slower_than_its_hold_keeps_to_the_rate_released(
    two_pools, empty_queues, redis_client, key
):
    rate, n = 2, 8  # slots 0.5 s apart: four children hold two, the rest are released
    ids = {probes.paced.delay(key, f"{rate}/1").id for _ in range(n)}

    gone(redis_client, key, n, timeout=n / rate + 30)
    settled(redis_client, ids)

    went = records(redis_client, key)
    times = sorted(record["at"] for record in went)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The bucket's bound (apps/common/bucket.py): a caller back with its slot may go up to one
    # interval early for delivery jitter, so no more than k + burst go in any k intervals. A
    # released task that came back late narrows the gap to its on-time neighbour; the bound holds.
    interval = 1 / rate
    for k in range(1, n):
        window = k * interval - 0.01
        most = max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))
        assert most <= k + 1, (k, gaps)
    assert sorted(gaps)[len(gaps) // 2] >= interval - 0.01, gaps  # in the main, a slot apart
    assert (n - 1) / (times[-1] - times[0]) == pytest.approx(rate, rel=0.05), gaps
    assert any(record["releases"] for record in went)
    assert {record["retries"] for record in went} == {0}


def test_outside_a_worker_pace_waits_in_place_and_release_refuses(redis_client, key):
    probes.paced(key, "20/1")
    probes.paced(key, "20/1")  # called directly: no queue to wait in, so it waits for its slot

    first, second = (json.loads(item) for item in redis_client.lrange(key, 0, -1))
    assert second["at"] - first["at"] >= 0.05 - 0.005
    with pytest.raises(RuntimeError, match="only a worker"):
        probes.paced.release(1)
