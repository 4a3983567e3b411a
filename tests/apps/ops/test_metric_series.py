"""The metrics screen's buckets and series, on the suite's Redis: what a run records per
minute and per ten minutes, how long it is kept, and what the series make of it."""

from types import SimpleNamespace

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from apps.common import redis_client
from apps.ops import metrics
from apps.ops.metric_series import series

# A minute that starts a ten-minute bucket and an hour, so the spans are known.
T0 = 28_999_980 * 60.0
MINUTE = int(T0 // 60)


def observe(monkeypatch, at: float, queue: str = "payments", **fields) -> None:
    monkeypatch.setattr(metrics, "time", SimpleNamespace(time=lambda: at))
    run = {"task": "probe", "outcome": "succeeded", "runtime": 0.01, "wait": 0.1, **fields}
    metrics.task_observed(queue=queue, **run)


def test_a_run_is_kept_per_minute_and_per_ten_minutes_for_the_retention(
    monkeypatch, settings, redis_client, clean_metrics
):
    settings.METRICS_MINUTES_KEPT = 90
    observe(monkeypatch, T0 + 5, runtime=0.2, wait=1.5)
    minute = redis_client.hgetall(metrics.span_key("payments", 1, MINUTE))
    ten = redis_client.hgetall(metrics.span_key("payments", 10, MINUTE // 10))
    assert minute == ten == {"succeeded": "1", "rt:0.25": "1"}
    assert redis_client.zrange(
        metrics.wait_key("payments", MINUTE // 60), 0, -1, withscores=True
    ) == [(str(MINUTE), 1.5)]
    # Every bucket expires: the minutes after MINUTES_KEPT, the rest after the setting.
    ttl = redis_client.ttl
    assert metrics.MINUTES_KEPT * 60 - 5 <= ttl(metrics.span_key("payments", 1, MINUTE)) <= 7200
    assert 90 * 60 - 5 <= ttl(metrics.span_key("payments", 10, MINUTE // 10)) <= 90 * 60
    assert 150 * 60 - 5 <= ttl(metrics.wait_key("payments", MINUTE // 60)) <= 150 * 60


def test_the_longest_wait_is_kept_for_the_minute_a_run_started(monkeypatch, clean_metrics):
    for wait in (0.5, 2.0, 1.0):
        observe(monkeypatch, T0 + 10, wait=wait)
    # Ended a minute later, started in MINUTE: its wait belongs there.
    observe(monkeypatch, T0 + 70, runtime=65, wait=3.0)
    observe(monkeypatch, T0 + 70, wait=0.2)
    data = series(queue="payments", minutes=60, step=1, now=T0 + 90)
    assert data["wait_max_s"][-2:] == [3.0, 0.2]
    assert data["totals"]["wait_max_s"] == 3.0
    assert data["wait_max_s"][:-2] == [None] * 58


def test_series_count_throughput_and_failures_per_point(monkeypatch, clean_metrics):
    for _ in range(3):
        observe(monkeypatch, T0 + 1)
    # A failure as tasks/base.py records it: its times, then the outcome without them.
    observe(monkeypatch, T0 + 2, outcome=None, runtime=0.02, wait=0.1)
    observe(monkeypatch, T0 + 2, outcome="failed", runtime=None, wait=None)
    observe(monkeypatch, T0 + 3, outcome="retried")  # not finished: no throughput
    observe(monkeypatch, T0 + 4, queue="emails")

    one = series(queue="payments", minutes=60, step=1, now=T0 + 30)
    assert len(one["t"]) == 60 and one["t"][-1] == MINUTE * 60
    assert one["throughput"][-1] == 4 and one["failures"][-1] == 1
    assert sum(one["throughput"][:-1]) == sum(one["failures"][:-1]) == 0
    totals = one["totals"]
    assert (totals["done"], totals["failed"], totals["wait_max_s"]) == (4, 1, 0.1)
    assert series(queue=None, minutes=60, step=1, now=T0 + 30)["totals"]["done"] == 5
    assert series(queue="maturation", minutes=60, step=1, now=T0 + 30)["totals"]["done"] == 0


def test_the_day_is_drawn_in_ten_minute_points_per_minute_of_each(monkeypatch, clean_metrics):
    for offset in (0, 60, 120, 120):  # four runs over the first three minutes of a ten
        observe(monkeypatch, T0 + offset)
    now = T0 + 9 * 60 + 30  # the ten minutes are over
    day = series(queue="payments", minutes=1440, step=10, now=now)
    assert len(day["t"]) == 144 and {
        b - a for a, b in zip(day["t"], day["t"][1:], strict=False)
    } == {600}
    assert day["t"][-1] == MINUTE * 60
    assert day["throughput"][-1] == pytest.approx(0.4)  # tasks per minute over the point
    assert day["totals"]["done"] == 4
    partial = series(queue="payments", minutes=1440, step=10, now=T0 + 150)
    assert len(partial["t"]) == 145
    assert partial["throughput"][-1] == 1.333  # three minutes of it so far


def test_p95_from_merged_buckets(monkeypatch, clean_metrics):
    for _ in range(90):
        observe(monkeypatch, T0 + 1, runtime=0.003)  # the 0.005 bucket
    for _ in range(10):
        observe(monkeypatch, T0 + 61, runtime=0.2)  # the 0.25 bucket
    hour = series(queue="payments", minutes=60, step=1, now=T0 + 90)
    # Rank 95 of 100 is the 5th of the 10 in (0.1, 0.25]: 0.1 + 0.15 * 5 / 10.
    assert hour["totals"]["runtime_p95_s"] == pytest.approx(0.175)
    # Each minute alone: rank 85.5 of 90 in (0, 0.005]; rank 9.5 of 10 in (0.1, 0.25].
    assert hour["runtime_p95_s"][-2:] == pytest.approx([0.00475, 0.2425])
    day = series(queue="payments", minutes=1440, step=10, now=T0 + 90)
    assert day["runtime_p95_s"][-1] == pytest.approx(0.175)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({}, None),
        ({"1": 4}, 0.5 + 0.5 * 3.8 / 4),
        ({"0.005": 19, "+Inf": 1}, 0.005),  # rank 19 is the last of the first bucket
        ({"0.005": 1, "+Inf": 99}, 300),  # beyond the last bound: that bound
    ],
)
def test_bucket_quantile(counts, expected):
    assert metrics.bucket_quantile(0.95, counts) == (
        expected if expected is None else pytest.approx(expected)
    )


def test_a_step_the_buckets_cannot_make_is_refused():
    with pytest.raises(ValueError, match="step"):
        series(queue="payments", minutes=1440, step=15)


def test_recording_never_fails_a_task_when_redis_is_away(monkeypatch, caplog):
    away = redis.Redis(port=9, retry=Retry(NoBackoff(), 0))  # nothing listens there
    monkeypatch.setattr(redis_client, "client", lambda: away)
    metrics.task_observed(queue="payments", task="probe", outcome="succeeded", runtime=1, wait=1)
    assert "run.unrecorded runs=1" in caplog.text
