"""Delays under a real worker whose broker visibility timeout is lowered to 6 s, so that a
delay of several times that stands for the hours a real one may last (kombu#337): held in
the database, published once, on time, and recovered from the database after a Redis flush;
a short one stays a broker message, which a worker's restart does not lose."""

import json
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.common.queue import enqueue_on_commit
from apps.ops.delays import delay_hold, delayed_jobs_publish
from apps.ops.models import DelayedJob
from config.celery import app
from devstack.processes import wait_for
from tests.support import probes
from tests.support.workers import ProbeWorker, broker_holds

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VISIBILITY = 6


@pytest.fixture(scope="module")
def short_visibility(django_db_setup, django_db_blocker, tmp_path_factory):
    env = {"BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY), "DELAY_ETA_MAX": "3"}
    process = ProbeWorker(tmp_path_factory.mktemp("delays"), ["payments"], env=env).start()
    yield process
    process.stop()


@pytest.fixture
def bounds(settings):
    """What the enqueuing side and beat's publisher go by, as in the worker."""
    settings.DELAY_ETA_MAX, settings.DELAY_LEAD, settings.DELAY_GRACE = 3, 2, 4


def runs(redis_client, key: str) -> list[dict]:
    return [json.loads(r) for r in redis_client.lrange(key, 0, -1)]


def beat_until(condition, timeout: float = 60, what: str = "condition"):
    """Run beat's publisher as beat would, until ``condition`` holds."""
    return wait_for(
        lambda: delayed_jobs_publish() is not None and condition(),
        timeout=timeout,
        interval=0.2,
        what=what,
    )


def test_a_delay_past_the_visibility_timeout_is_held_and_runs_once_on_time(
    short_visibility, bounds, empty_queues, redis_client, key
):
    delay = 3 * VISIBILITY
    with transaction.atomic():
        enqueue_on_commit(probes.stamped, delay=delay, key=key)
        due = time.time() + delay
        (job,) = DelayedJob.objects.all()  # written in the caller's transaction
    assert not broker_holds(redis_client, job.task_id)  # no broker message waits that long

    beat_until(lambda: runs(redis_client, key), timeout=delay + 30, what="the delayed run")
    (run,) = runs(redis_client, key)
    assert -0.05 <= run["at"] - due <= 1.0  # on time
    assert run["id"] == job.task_id
    # Past another visibility timeout after it ran, nothing runs it again.
    beat_until(lambda: time.time() > run["at"] + VISIBILITY + 2, what="a visibility timeout")
    assert len(runs(redis_client, key)) == 1
    job.refresh_from_db()
    assert job.started_at is not None


def test_a_short_delay_stays_a_broker_message(
    short_visibility, bounds, empty_queues, redis_client, key
):
    sent = time.time()
    with transaction.atomic():
        enqueue_on_commit(probes.stamped, delay=1, key=key)
    assert not DelayedJob.objects.exists()
    (run,) = wait_for(lambda: runs(redis_client, key), what="the short delay")
    assert run["at"] - sent >= 1 - 0.05


def test_a_two_hour_delay_survives_a_redis_flush(
    short_visibility, bounds, empty_queues, redis_client, key
):
    with transaction.atomic():
        enqueue_on_commit(probes.stamped, delay=2 * 3600, key=key)
    delayed_jobs_publish()  # two hours away: nothing to publish yet
    (job,) = DelayedJob.objects.all()
    assert job.published_at is None

    redis_client.flushall()
    # Two hours pass: the row is moved to stand for it.
    due = timezone.now() + timedelta(seconds=1)
    DelayedJob.objects.filter(pk=job.pk).update(due_at=due)
    beat_until(lambda: runs(redis_client, key), what="the run after the flush")
    (run,) = runs(redis_client, key)
    assert -0.05 <= run["at"] - due.timestamp() <= 1.0


def test_a_published_job_whose_message_was_lost_is_published_again_and_runs_once(
    short_visibility, bounds, empty_queues, redis_client, key
):
    with transaction.atomic():
        enqueue_on_commit(probes.stamped, delay=3600, key=key)
    (job,) = DelayedJob.objects.all()
    DelayedJob.objects.filter(pk=job.pk).update(due_at=timezone.now() + timedelta(seconds=2))
    assert delayed_jobs_publish() == 1
    first = DelayedJob.objects.get().task_id
    # Its grace passes before it could start (a lost message, or one still queued): the
    # publisher sends a new copy; whichever starts first is superseded or claims the row.
    past_grace = timezone.now() - timedelta(seconds=5)
    DelayedJob.objects.filter(pk=job.pk).update(due_at=past_grace, published_at=past_grace)
    assert delayed_jobs_publish() == 1
    second = DelayedJob.objects.get().task_id
    assert second != first
    assert delayed_jobs_publish() == 0  # once a grace, not at every beat

    wait_for(lambda: runs(redis_client, key), what="the new copy")
    wait_for(
        lambda: not broker_holds(redis_client, first) and not broker_holds(redis_client, second),
        what="both copies acknowledged",
    )
    (run,) = runs(redis_client, key)
    assert run["id"] == second
    assert "superseded" in short_visibility.log()


def test_a_new_copy_is_sent_only_once_its_task_id_is_committed(bounds, monkeypatch):
    """A copy sent before the row names it would start, find the old task id, and skip itself
    as superseded: then neither copy runs."""
    job = delay_hold(
        task_name=probes.stamped.name, args=(), kwargs={}, due_at=timezone.now(), options={}
    )
    past_grace = timezone.now() - timedelta(seconds=5)
    DelayedJob.objects.filter(pk=job.pk).update(due_at=past_grace, published_at=past_grace)
    sent = []

    def send_task(name, *, task_id, **options):
        sent.append((task_id, connection.in_atomic_block, DelayedJob.objects.get().task_id))

    monkeypatch.setattr(app, "send_task", send_task)
    assert delayed_jobs_publish() == 1
    ((task_id, in_transaction, committed),) = sent
    assert task_id != job.task_id
    assert (in_transaction, committed) == (False, task_id)


def test_a_unique_held_delay_locks_for_a_minute_until_it_commits(
    bounds, empty_queues, redis_client, key, monkeypatch
):
    monkeypatch.setattr(probes.unique_block, "unique_for", 3600)
    lock = f"lock:{probes.unique_block.unique_lock((), {'key': key})}"
    with pytest.raises(RuntimeError), transaction.atomic():
        probes.unique_block.apply_async(kwargs={"key": key}, countdown=2 * 3600)
        raise RuntimeError("the caller's work failed")
    # Rolled back: no row, and the lock goes within a minute, not an hour.
    assert not DelayedJob.objects.exists()
    assert 0 < redis_client.pttl(lock) <= 60_000

    redis_client.delete(lock)
    with transaction.atomic():
        probes.unique_block.apply_async(kwargs={"key": key}, countdown=2 * 3600)
        assert redis_client.pttl(lock) <= 60_000
    assert DelayedJob.objects.count() == 1
    assert 3590_000 < redis_client.pttl(lock) <= 3600_000  # committed: its whole unique_for


def test_a_short_delay_waiting_in_a_worker_survives_its_restart(
    bounds, empty_queues, redis_client, key, tmp_path
):
    env = {"BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY), "DELAY_ETA_MAX": "3"}
    first = ProbeWorker(tmp_path, ["provisioning"], env=env).start()
    sent = time.time()
    job = probes.stamped.apply_async(kwargs={"key": key}, countdown=3, queue="provisioning")
    # The worker holds the message until its ETA, unacknowledged; then it stops.
    wait_for(lambda: redis_client.llen("provisioning") == 0, what="the worker to take it")
    first.stop()
    assert not runs(redis_client, key)

    second = ProbeWorker(tmp_path, ["provisioning"], env=env).start()
    try:
        (run,) = wait_for(lambda: runs(redis_client, key), timeout=30, what="the delayed run")
        assert run["id"] == job.id and run["at"] - sent >= 3 - 0.05
        # Past a visibility timeout after it ran, nothing runs it again.
        wait_for(lambda: not broker_holds(redis_client, job.id), what="it to be acknowledged")
    finally:
        second.stop()
    assert len(runs(redis_client, key)) == 1
