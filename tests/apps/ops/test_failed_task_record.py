"""Recording a final failure: once per task id, and never lost while the database is down."""

import pytest
from django.db import OperationalError, connection

from apps.ops.models import FailedTask
from apps.ops.services import SPOOL_KEY, failed_task_record, failed_tasks_drain_spool

pytestmark = pytest.mark.django_db


def record(task_id: str = "t-1", **overrides):
    fields = {
        "task_id": task_id,
        "task_name": "tasks.payments.example",
        "queue": "payments",
        "args": [1],
        "kwargs": {"b": 2},
        "exception": ValueError("bad amount"),
        "traceback": "Traceback ...",
        "attempts": 3,
        "reason": FailedTask.Reason.EXHAUSTED,
    }
    return failed_task_record(**{**fields, **overrides})


def refuse_failed_task_writes(execute, sql, params, many, context):
    if "ops_failedtask" in sql and sql.lstrip().upper().startswith("INSERT"):
        raise OperationalError("the database is down")
    return execute(sql, params, many, context)


@pytest.fixture
def spool(redis_client):
    redis_client.delete(SPOOL_KEY)
    yield
    redis_client.delete(SPOOL_KEY)


def test_a_failure_reported_twice_is_recorded_once(spool):
    first, created = record()
    second, again = record(exception=RuntimeError("reported again by another hook"))
    assert first.pk == second.pk
    assert (created, again) == (True, False)
    row = FailedTask.objects.get()
    assert row.exception_type == "builtins.ValueError"
    assert row.exception_message == "bad amount"
    assert (row.args, row.kwargs, row.attempts) == ([1], {"b": 2}, 3)


def test_a_failure_is_spooled_while_the_database_is_down_and_moved_in_later(redis_client, spool):
    with connection.execute_wrapper(refuse_failed_task_writes):
        assert record("t-down") == (None, True)
    assert not FailedTask.objects.exists()
    assert redis_client.llen(SPOOL_KEY) == 1

    assert failed_tasks_drain_spool() == 1
    row = FailedTask.objects.get()
    assert (row.task_id, row.exception_message, row.queue) == ("t-down", "bad amount", "payments")
    assert redis_client.llen(SPOOL_KEY) == 0
    assert failed_tasks_drain_spool() == 0


def test_the_next_recorded_failure_brings_the_spool_in(spool):
    with connection.execute_wrapper(refuse_failed_task_writes):
        record("t-down")
    record("t-up")
    assert sorted(FailedTask.objects.values_list("task_id", flat=True)) == ["t-down", "t-up"]


def test_draining_twice_concurrently_records_each_failure_once(redis_client, spool):
    with connection.execute_wrapper(refuse_failed_task_writes):
        record("t-a")
        record("t-b")
    raw = redis_client.lrange(SPOOL_KEY, 0, -1)
    # A second drainer that already read the spool moves the same payloads in again.
    failed_tasks_drain_spool()
    redis_client.rpush(SPOOL_KEY, *raw)
    failed_tasks_drain_spool()
    assert FailedTask.objects.count() == 2
    assert redis_client.llen(SPOOL_KEY) == 0
