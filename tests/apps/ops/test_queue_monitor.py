"""queue_monitor against real Redis with no worker consuming: depth, wait, exit status."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.ops.models import AdminEvent
from config import queues
from config.celery import app
from devstack.processes import wait_for

COMMISSIONS = queues.policy("commissions")  # alert depth 10


@pytest.fixture(autouse=True)
def no_workers(empty_queues):
    assert not app.control.ping(timeout=0.3), "a worker is running: these tests need none"


def monitor(*args) -> list[dict]:
    out = StringIO()
    call_command("queue_monitor", "--timeout", "0.2", "--json", "--no-alert", *args, stdout=out)
    return json.loads(out.getvalue())


def publish(queue: str, count: int) -> None:
    for _ in range(count):
        app.send_task("tasks.default.ping", queue=queue)


def test_quiet_queues_exit_zero_and_show_every_queue():
    rows = monitor()
    assert [r["queue"] for r in rows] == list(queues.NAMES)
    assert all(r["depth"] == 0 and r["status"] == "ok" for r in rows)
    assert all(r["oldest_wait"] is None and r["workers"] == [] for r in rows)


def test_exit_one_when_a_queue_is_deeper_than_the_table_allows():
    publish("commissions", COMMISSIONS.alert_depth)
    [row] = monitor("commissions")
    assert (row["depth"], row["max_depth"], row["status"]) == (10, 10, "ok")

    publish("commissions", 1)
    with pytest.raises(CommandError, match="Over threshold: commissions") as error:
        monitor("commissions", "payments")
    assert error.value.returncode == 1


def test_a_max_on_the_command_line_overrides_the_table():
    publish("payments", 5)
    with pytest.raises(CommandError, match="payments"):
        monitor("payments:4")
    [row] = monitor("payments:5")
    assert row["max_depth"] == 5 and row["status"] == "ok"


def test_exit_one_when_the_oldest_message_waited_too_long():
    publish("default", 1)
    # The wait grows while nobody consumes; poll the monitor until it reports one second.
    wait_for(lambda: monitor("default")[0]["oldest_wait"] >= 1.0, what="a second of wait")
    with pytest.raises(CommandError, match="Over threshold: default"):
        monitor("default", "--max-wait", "1")
    [row] = monitor("default")  # the table allows 5 minutes
    assert row["status"] == "ok" and row["max_wait"] == queues.policy("default").alert_wait


def test_require_workers_fails_a_queue_nobody_consumes():
    with pytest.raises(CommandError, match="Over threshold"):
        monitor("maturation", "--require-workers")


def test_the_table_output_is_readable():
    publish("payments", 2)
    out = StringIO()
    call_command("queue_monitor", "payments", "--timeout", "0.2", stdout=out)
    header, _rule, line = out.getvalue().splitlines()
    assert header.split()[:3] == ["QUEUE", "DEPTH", "MAX"]
    assert line.split()[:3] == ["payments", "2", "100"]


def test_unknown_queue_and_bad_max_are_refused():
    with pytest.raises(CommandError, match="unknown queue 'nope'"):
        monitor("nope")
    with pytest.raises(CommandError, match="MAX must be a whole number"):
        monitor("payments:lots")


def test_a_broker_that_does_not_answer_is_a_clear_error():
    app.conf.broker_url, saved = "redis://127.0.0.1:1/0", app.conf.broker_url
    try:
        with pytest.raises(CommandError, match="The broker does not answer"):
            monitor("payments")
    finally:
        app.conf.broker_url = saved


@pytest.mark.django_db
def test_a_busy_queue_alerts_once_per_cool_down(redis_client, mailoutbox):
    redis_client.delete("ops:alert:commissions")
    publish("commissions", COMMISSIONS.alert_depth + 1)
    for _ in range(2):
        with pytest.raises(CommandError):
            call_command("queue_monitor", "--timeout", "0.2", stdout=StringIO())
    [event] = AdminEvent.objects.filter(type=AdminEvent.Type.QUEUE_BUSY)
    assert (event.payload["queue"], event.payload["depth"]) == ("commissions", 11)
    assert event.tags == " queue:commissions "
    [mail] = mailoutbox
    assert "QueueBusy: commissions" in mail.subject and mail.to == ["ops@example.com"]
    assert 0 < redis_client.ttl("ops:alert:commissions") <= 900
