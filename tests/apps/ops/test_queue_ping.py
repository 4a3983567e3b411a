"""queue_ping and queue_monitor with a real worker that consumes every queue but maturation."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from config import queues
from tests.support.workers import ProbeWorker

SERVED = [n for n in queues.NAMES if n != "maturation"]


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory):
    process = ProbeWorker(tmp_path_factory.mktemp("worker"), queue_names=SERVED).start()
    yield process
    process.stop()


def run(*args) -> list[dict]:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_every_served_queue_answers_a_ping_through_its_worker(worker, empty_queues):
    rows = run("queue_ping", *SERVED)
    assert [r["queue"] for r in rows] == SERVED
    assert all(r["worker"] == worker.name and r["round_trip_ms"] > 0 for r in rows)


def test_a_queue_nobody_consumes_fails_the_ping(worker, empty_queues):
    with pytest.raises(CommandError, match="No answer from: maturation") as error:
        run("queue_ping", "--timeout", "1")
    assert error.value.returncode == 1


def test_the_monitor_names_the_consuming_workers(worker, empty_queues):
    rows = {r["queue"]: r for r in run("queue_monitor", "--timeout", "1")}
    assert all(rows[n]["workers"] == [worker.name] for n in SERVED)
    assert rows["maturation"]["workers"] == []
    with pytest.raises(CommandError, match="maturation"):
        run("queue_monitor", "--timeout", "1", "--require-workers")
