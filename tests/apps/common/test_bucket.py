"""The shared token bucket against the suite's real Redis: tokens, reservations, late and
early callers, the horizon, expiry, and many callers at once."""

import bisect
import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from apps.common.bucket import PREFIX, REFUSED_WAIT, BucketUnavailable, Pace, take
from apps.common.errors import TransientError
from apps.common.ratelimit import Rate
from devstack.processes import free_port, wait_for

FAST = Pace.parse("50/1")  # one every 20 ms
SLOW = Pace.parse("1/10")  # one every 10 s: nothing falls due during a test


def redis_now(redis_client) -> float:
    seconds, micros = redis_client.time()
    return seconds + micros / 1_000_000


def until(redis_client, moment: float) -> None:
    """Poll Redis's clock (the bucket's) until ``moment``."""
    wait_for(lambda: redis_now(redis_client) >= moment, timeout=10, interval=0.002, what="time")


def test_a_pace_reads_a_rate_setting():
    pace = Pace.parse("10/1", burst=2)
    assert pace == Pace(Rate(10, 1), burst=2)
    assert pace.interval == 0.1
    with pytest.raises(ValueError):
        Pace.parse("10/1", burst=0)
    with pytest.raises(ValueError):
        Pace.parse("0/1")


def test_the_first_take_goes_at_once(key):
    grant = take(key, SLOW)
    assert grant.go
    assert (grant.wait, grant.slot) == (0, None)


def test_a_burst_goes_at_once_then_slots_are_reserved_an_interval_apart(key):
    pace = Pace.parse("1/10", burst=3)
    assert [take(key, pace).go for _ in range(3)] == [True, True, True]

    fourth, fifth = take(key, pace), take(key, pace)
    # Three tokens went at t0: the next is free at t0 + 10 s, the one after at t0 + 20 s.
    assert 9.9 < fourth.wait <= 10
    assert fourth.slot == pytest.approx(fourth.now + fourth.wait, abs=1e-6)
    assert fifth.slot == pytest.approx(fourth.slot + 10, abs=1e-6)


def test_a_caller_back_at_its_slot_goes_on_its_reserved_token(key, redis_client):
    take(key, FAST)
    reserved = take(key, FAST)
    assert 0 < reserved.wait <= FAST.interval

    until(redis_client, reserved.slot)
    assert take(key, FAST, slot=reserved.slot).go
    # It took nothing more: the next caller is one interval behind it, not two.
    after = take(key, FAST)
    assert reserved.slot + FAST.interval - 1e-6 <= after.slot < reserved.slot + FAST.interval + 0.1


def test_a_caller_back_early_is_told_to_wait_for_the_same_slot(key):
    take(key, SLOW)
    reserved = take(key, SLOW)

    early = take(key, SLOW, slot=reserved.slot)
    assert not early.go
    assert early.slot == reserved.slot
    assert 0 < early.wait <= reserved.wait
    assert take(key, SLOW).slot == pytest.approx(reserved.slot + 10, abs=1e-6)  # none added


def test_neighbouring_slots_delivered_out_of_order_both_go(key, redis_client):
    take(key, FAST)
    first, second = take(key, FAST), take(key, FAST)

    until(redis_client, second.slot)
    assert take(key, FAST, slot=second.slot).go
    assert take(key, FAST, slot=first.slot).go  # an interval late: still its own token


def test_a_caller_long_past_its_slot_goes_if_nothing_else_used_the_rate(key, redis_client):
    # A pool slower than the rate runs every caller late; none is sent back for that.
    assert take(key, SLOW, slot=redis_now(redis_client) - 60).go


def test_a_caller_long_past_its_slot_is_reserved_again_if_the_rate_was_used(key):
    went = take(key, SLOW)
    # Held by workers that stalled a minute: one more may go on the interval of jitter allowed.
    assert take(key, SLOW, slot=went.now - 60).go
    stale = take(key, SLOW, slot=went.now - 60)
    assert not stale.go
    assert stale.slot == pytest.approx(went.now + 20, abs=1e-3)


def test_callers_that_stalled_together_do_not_go_together(key, redis_client):
    take(key, FAST)
    slots = [take(key, FAST).slot for _ in range(5)]
    until(redis_client, slots[-1] + 0.5)  # all five wake up at once, long after their slots

    grants = [take(key, FAST, slot=slot) for slot in slots]
    # The first two go on the interval of jitter allowed; the rest wait their turn again.
    assert [grant.go for grant in grants] == [True, True, False, False, False]
    again = [grant.slot for grant in grants[2:]]
    assert again[0] == pytest.approx(grants[0].now + 2 * FAST.interval, abs=1e-6)
    assert [b - a for a, b in itertools.pairwise(again)] == pytest.approx(
        [FAST.interval] * 2, abs=1e-6
    )


def test_nothing_is_reserved_beyond_the_horizon(key):
    pace = Pace.parse("1/1")
    take(key, pace)
    within = [take(key, pace, horizon=2.5) for _ in range(2)]  # slots 1 s and 2 s ahead
    assert all(grant.slot is not None for grant in within)

    refused = take(key, pace, horizon=2.5)  # 3 s ahead
    assert refused.slot is None
    assert 2.5 * REFUSED_WAIT[0] <= refused.wait <= 2.5 * REFUSED_WAIT[1]
    # The refusal reserved nothing: a caller with a longer horizon gets the 3 s slot.
    assert take(key, pace, horizon=10).slot == pytest.approx(within[-1].slot + 1, abs=1e-6)


def test_two_buckets_are_independent(key):
    assert take(f"{key}:a", SLOW).go
    assert take(f"{key}:b", SLOW).go
    assert not take(f"{key}:a", SLOW).go


def test_an_idle_bucket_expires_after_its_last_reservation(key, redis_client):
    take(key, SLOW)
    take(key, SLOW)  # reserves t0 + 10 s; the next slot falls free at t0 + 20 s
    assert 19_000 < redis_client.pttl(f"{PREFIX}:{key}") <= 21_000


def test_a_redis_that_does_not_answer_is_a_transient_error(key, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    with pytest.raises(BucketUnavailable) as caught:
        take(key, SLOW)
    assert isinstance(caught.value, TransientError)


def test_many_callers_at_once_never_exceed_the_rate(key):
    pace = Pace.parse("50/1", burst=2)
    callers, calls = 8, 13

    def caller() -> list[float]:
        went = []
        for _ in range(calls):
            grant = take(key, pace)
            while not grant.go:
                time.sleep(grant.wait)  # what a released task does between its two runs
                grant = take(key, pace, slot=grant.slot)
            went.append(grant.now)
        return went

    with ThreadPoolExecutor(callers) as pool:
        runs = [pool.submit(caller) for _ in range(callers)]
        times = sorted(t for run in runs for t in run.result())

    assert len(times) == callers * calls
    busiest = max(bisect.bisect_left(times, t + 1) - i for i, t in enumerate(times))
    assert busiest <= 50 + 2
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate == pytest.approx(50, rel=0.05)
