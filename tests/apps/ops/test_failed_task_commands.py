"""queue_failed, queue_retry, queue_forget and queue_flush, as an operator runs them."""

import base64
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

import tests.support.probes  # noqa: F401  (registers the probe tasks in this process)
from apps.ops.models import FailedTask
from apps.ops.services import SPOOL_KEY
from tests.support.factories import FailedTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)  # retries publish once they commit


@pytest.fixture(autouse=True)
def no_spooled_failures(redis_client):
    """queue_failed moves spooled failures in first: none left by other tests' workers (a
    worker that met a locked database spools its failure, as it should)."""
    redis_client.delete(SPOOL_KEY)


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def queued(redis_client, queue: str) -> list[dict]:
    return [json.loads(m) for m in redis_client.lrange(queue, 0, -1)]


def test_queue_failed_lists_newest_first_as_a_table():
    old = FailedTaskFactory(failed_at=timezone.now() - timedelta(hours=2), task_name="tasks.a")
    new = FailedTaskFactory(exception_message="line one\nline two", task_name="tasks.b")
    out = run("queue_failed")
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID",
        "FAILED",
        "AT",
        "QUEUE",
        "TASK",
        "ATTEMPTS",
        "REASON",
        "ERROR",
    ]
    assert lines[1].startswith("--")
    assert lines[2].split()[0] == str(new.pk) and "tasks.b" in lines[2]
    assert lines[3].split()[0] == str(old.pk)
    assert "ValueError: line one line two" in out


def test_queue_failed_filters_by_queue_and_prints_json():
    FailedTaskFactory(queue="payments")
    kept = FailedTaskFactory(queue="provisioning", args=[7], kwargs={"router": 3})
    rows = json.loads(run("queue_failed", "--queue", "provisioning", "--json"))
    assert [r["id"] for r in rows] == [kept.pk]
    assert rows[0]["args"] == [7] and rows[0]["kwargs"] == {"router": 3}
    assert rows[0]["traceback"].startswith("Traceback")


def test_queue_failed_shows_one_in_full():
    row = FailedTaskFactory(
        traceback="Traceback (most recent call last):\n  deep frame\nValueError"
    )
    out = run("queue_failed", str(row.pk))
    assert row.task_id in out and "deep frame" in out


def test_queue_failed_says_when_there_is_nothing():
    assert run("queue_failed").strip() == "No failed tasks."


def test_queue_failed_refuses_an_unknown_queue_and_id():
    with pytest.raises(CommandError, match="unknown queue 'nope'"):
        run("queue_failed", "--queue", "nope")
    with pytest.raises(CommandError, match="No failed task with id 999"):
        run("queue_failed", "999")


def test_queue_retry_publishes_on_the_rows_queue_and_deletes_it(redis_client, empty_queues):
    row = FailedTaskFactory(queue="provisioning", args=["probe:a"], kwargs={})
    out = run("queue_retry", str(row.pk))
    assert not FailedTask.objects.filter(pk=row.pk).exists()
    [message] = queued(redis_client, "provisioning")
    assert message["headers"]["task"] == "tests.support.probes.record"
    assert message["headers"]["id"] in out
    assert json.loads(base64.b64decode(message["body"]))[0] == ["probe:a"]


def test_queue_retry_all_of_one_queue(redis_client, empty_queues):
    FailedTaskFactory.create_batch(3, queue="payments")
    other = FailedTaskFactory(queue="default")
    rows = json.loads(run("queue_retry", "all", "--queue", "payments", "--json"))
    assert len(rows) == 3 and {r["queue"] for r in rows} == {"payments"}
    assert redis_client.llen("payments") == 3
    assert list(FailedTask.objects.values_list("pk", flat=True)) == [other.pk]


def test_queue_retry_keeps_a_row_whose_task_is_not_registered(redis_client, empty_queues):
    gone = FailedTaskFactory(task_name="tasks.payments.renamed_long_ago")
    fine = FailedTaskFactory()
    with pytest.raises(CommandError, match="renamed_long_ago is not a registered task; kept"):
        run("queue_retry", str(gone.pk), str(fine.pk))
    assert list(FailedTask.objects.values_list("pk", flat=True)) == [gone.pk]
    assert redis_client.llen("payments") == 1


def test_queue_retry_rejects_bad_arguments(empty_queues):
    with pytest.raises(CommandError, match="ids \\(numbers\\) or 'all'"):
        run("queue_retry", "abc")
    with pytest.raises(CommandError, match="No failed task with id 424242"):
        run("queue_retry", "424242")
    with pytest.raises(CommandError, match="--queue goes with 'all'"):
        run("queue_retry", "1", "--queue", "payments")


def test_queue_forget_deletes_one_row():
    row, other = FailedTaskFactory(), FailedTaskFactory()
    run("queue_forget", str(row.pk))
    assert list(FailedTask.objects.values_list("pk", flat=True)) == [other.pk]
    with pytest.raises(CommandError, match=f"No failed task with id {row.pk}"):
        run("queue_forget", str(row.pk))


def test_queue_flush_all_or_older_than_hours():
    FailedTaskFactory(failed_at=timezone.now() - timedelta(hours=30))
    recent = FailedTaskFactory(failed_at=timezone.now() - timedelta(hours=1))
    assert json.loads(run("queue_flush", "--hours", "24", "--json")) == [
        {"deleted": 1, "older_than_hours": 24.0}
    ]
    assert list(FailedTask.objects.values_list("pk", flat=True)) == [recent.pk]
    run("queue_flush")
    assert not FailedTask.objects.exists()
    with pytest.raises(CommandError, match="negative"):
        run("queue_flush", "--hours", "-1")


@pytest.mark.parametrize(
    "command",
    ["queue_failed", "queue_retry", "queue_forget", "queue_flush", "queue_monitor", "queue_ping"],
)
def test_every_command_has_help_and_json(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command(command, "--help")
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith("usage:") and "--json" in text
