"""Real beat processes with the database scheduler: a one-second row created in the database
runs on a real worker, and a second beat does not make it fire twice (the leader lock)."""

import itertools
import json
import signal
from datetime import timedelta

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from devstack.processes import wait_for
from tests.support.beat import Beat
from tests.support.workers import ProbeWorker, database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]  # real beats


@pytest.fixture
def every_second(key) -> PeriodicTask:
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    return PeriodicTask.objects.create(
        name="test: record every second",
        task="tests.support.probes.record",
        interval=every,
        args=json.dumps([key]),
    )


def runs(redis_client, key) -> list[dict]:
    return [json.loads(r) for r in redis_client.lrange(key, 0, -1)]


def test_a_one_second_schedule_row_runs_on_a_worker(
    tmp_path, key, redis_client, empty_queues, every_second
):
    worker = ProbeWorker(tmp_path, queue_names=["payments"]).start()
    beat = Beat(tmp_path, {**worker.env, "DATABASE_URL": database_url()}, "beat")
    try:
        wait_for(lambda: redis_client.llen(key) >= 3, timeout=60, what="three runs from beat")
    finally:
        beat.stop()
        worker.stop()
    [first, *_] = runs(redis_client, key)
    assert first["queue"] == "payments" and first["hostname"] == worker.name
    every_second.refresh_from_db()
    assert every_second.total_run_count >= 3


def test_two_beats_send_each_schedule_once_and_a_standby_takes_over(
    tmp_path, key, redis_client, empty_queues, every_second
):
    worker = ProbeWorker(tmp_path, queue_names=["payments"]).start()
    env = {**worker.env, "DATABASE_URL": database_url(), "BEAT_LOCK_TTL": "3"}
    beats = [Beat(tmp_path, env, f"beat-{n}") for n in range(2)]
    try:
        wait_for(lambda: redis_client.llen(key) >= 6, timeout=60, what="six runs from two beats")
        [leader] = wait_for(
            lambda: [b for b in beats if b.leads()] or None, what="one beat to lead"
        )
        [standby] = [b for b in beats if b is not leader]
        assert not standby.leads()
        # The leader dies without letting go: the standby takes over once the lock expires.
        leader.process.send_signal(signal.SIGKILL)
        leader.process.wait()
        before = redis_client.llen(key)
        wait_for(standby.leads, timeout=30, what="the standby to take over")
        wait_for(lambda: redis_client.llen(key) >= before + 3, timeout=30, what="its runs")
    finally:
        for beat in beats:
            beat.stop()
        worker.stop()
    sent = sorted(r["published_at"] for r in runs(redis_client, key))
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    # One beat sending: a run a second. Two sending would put runs a few milliseconds apart.
    assert min(gaps) > 0.5, gaps


def test_a_beat_that_lost_the_lock_during_a_tick_does_not_send(
    redis_client, empty_queues, every_second, settings
):
    """The lock is asked again right before each send: another beat may have taken it while
    a slow tick ran (the lock's TTL passed), and the two would send the same run."""
    from apps.ops.beat import LOCK_KEY, LeaderScheduler
    from config.celery import app

    settings.BEAT_LOCK_TTL = 30
    scheduler = LeaderScheduler(app=app)
    try:
        assert scheduler.tick() is not None and scheduler.leading
        entry = scheduler.schedule[every_second.name]
        queue = "payments"  # where tests.support.probes.record routes
        before = redis_client.llen(queue)
        redis_client.set(LOCK_KEY, "another beat", px=30_000)  # it took over meanwhile
        scheduler.apply_entry(entry, producer=scheduler.producer)
        assert redis_client.llen(queue) == before, "a beat without the lock sent a run"
        assert not scheduler.leading

        redis_client.set(LOCK_KEY, scheduler.token, px=30_000)  # held again, as at a tick
        scheduler.apply_entry(entry, producer=scheduler.producer)
        assert redis_client.llen(queue) == before + 1
    finally:
        redis_client.delete(LOCK_KEY)
        scheduler.close()


def test_taking_the_lead_as_the_schedule_changes_sends_a_due_run_once(
    redis_client, empty_queues, every_second, settings
):
    """A beat that takes the lock while the schedules change (a row saved in admin) sends a
    due run once, at its first tick, and not again at the next."""
    from django_celery_beat.models import PeriodicTasks

    from apps.ops.beat import LOCK_KEY, LeaderScheduler
    from config.celery import app

    settings.BEAT_LOCK_TTL = 30
    every_second.last_run_at = every_second.date_changed - timedelta(minutes=1)  # due
    every_second.save()
    queue = "payments"
    redis_client.delete(LOCK_KEY)
    scheduler = LeaderScheduler(app=app)
    try:
        PeriodicTasks.update_changed()  # an edit after the beat read the schedules
        before = redis_client.llen(queue)
        scheduler.tick()  # takes the lock and sends the due run
        scheduler.tick()  # due again only in a second
        assert redis_client.llen(queue) == before + 1
    finally:
        redis_client.delete(LOCK_KEY)
        scheduler.close()
