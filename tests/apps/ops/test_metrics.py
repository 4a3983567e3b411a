"""Metrics through a real worker: N tasks in, the counters and histograms say N, and
/metrics exports them as Prometheus text."""

import pytest
from django.test import Client

from apps.ops import metrics
from devstack.processes import wait_for
from tests.support.probes import fail, record
from tests.support.prometheus import sample
from tests.support.workers import ProbeWorker

N = 12


# Transactional: the worker records the failure in the database itself, a row a rolled-back
# test would leave behind for the next test.
@pytest.mark.django_db(transaction=True)
def test_n_tasks_through_a_worker_are_counted_and_timed(worker, key, clean_metrics, settings):
    settings.METRICS_TOKEN = "scrape-me"
    results = [record.delay(key) for _ in range(N)]
    fail.delay(f"{key}:f", transient=False)
    series = ("payments", "tests.support.probes.record")
    wait_for(lambda: metrics.counts().get((*series, "succeeded")) == N, what="N recorded")
    wait_for(
        lambda: metrics.counts().get(("payments", "tests.support.probes.fail", "failed")) == 1,
        what="the failure recorded",
    )
    assert len(results) == N
    runtime = metrics.histograms("runtime")[series]
    wait = metrics.histograms("wait")[series]
    assert runtime["count"] == wait["count"] == N
    assert runtime["buckets"][-1] == ("+Inf", N)  # cumulative: every run is under +Inf
    assert 0 < runtime["sum"] < N * 5

    text = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me").content.decode()
    labels = {"queue": "payments", "task": "tests.support.probes.record"}
    assert sample(text, "conveyor_tasks_total", **labels, outcome="succeeded") == N
    assert sample(text, "conveyor_task_runtime_seconds_count", **labels) == N
    assert sample(text, "conveyor_task_runtime_seconds_bucket", **labels, le="+Inf") == N
    assert sample(text, "conveyor_task_wait_seconds_count", **labels) == N
    assert sample(text, "conveyor_queue_workers", queue="payments") == 1
    assert sample(text, "conveyor_queue_processes", queue="payments") == 1
    rates = metrics.queue_rates("payments")
    assert rates["failure_rate"] is None or rates["failure_rate"] <= 1
    # N successes and one failure, all within the last minute (the test takes seconds).
    assert (rates["last_minute"], rates["last_hour"]) == (N + 1, N + 1)
    assert rates["failure_rate"] == pytest.approx(1 / (N + 1))
    percentiles = metrics.runtime_percentiles("payments")
    assert percentiles["sample"] == N + 1 and 0 < percentiles["p50_ms"] <= percentiles["p95_ms"]


@pytest.mark.django_db
@pytest.mark.slow
def test_a_pool_child_recycled_after_each_task_sends_what_it_gathered(
    tmp_path, key, clean_metrics, empty_queues
):
    # The children send their records together every METRICS_FLUSH_SECONDS (here longer than
    # the test); one that exits after its task (its last) sends them as it goes.
    env = {"WORKER_MAX_TASKS_PER_CHILD": "1", "METRICS_FLUSH_SECONDS": "600"}
    child_per_task = ProbeWorker(tmp_path, ["payments"], env=env)
    child_per_task.start()
    try:
        for _ in range(5):
            record.delay(key)
        series = ("payments", "tests.support.probes.record", "succeeded")
        wait_for(lambda: metrics.counts().get(series) == 5, what="every run counted")
    finally:
        child_per_task.stop()
    assert "run.unrecorded" not in child_per_task.log()
