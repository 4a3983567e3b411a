"""A real beat process with the database scheduler: a one-second row created in the
database runs on a real worker."""

import json
import subprocess
import sys

import pytest
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from devstack.processes import wait_for
from tests.support.workers import ProbeWorker, database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]  # a real beat


def test_a_one_second_schedule_row_runs_on_a_worker(tmp_path, key, redis_client, empty_queues):
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="test: record every second",
        task="tests.support.probes.record",
        interval=every,
        args=json.dumps([key]),
    )
    worker = ProbeWorker(tmp_path, queue_names=["payments"]).start()
    log = (tmp_path / "beat.log").open("wb")
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"],
        env={**worker.env, "DATABASE_URL": database_url()},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: redis_client.llen(key) >= 3, timeout=60, what="three runs from beat")
    finally:
        beat.terminate()
        beat.wait(timeout=20)
        log.close()
        worker.stop()
    [first, *_] = [json.loads(r) for r in redis_client.lrange(key, 0, -1)]
    assert first["queue"] == "payments" and first["hostname"] == worker.name
    assert PeriodicTask.objects.get(name="test: record every second").total_run_count >= 3
