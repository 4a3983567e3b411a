"""Retrying a failed task is exactly once: the message is published after the row's deletion
commits, two retries of one row at once publish it once, and a retry the broker refuses keeps
the row. On PostgreSQL (row locks) and SQLite (one writer at a time) alike."""

import base64
import json
import os
import subprocess
import sys
import threading

import pytest
from django.db import transaction
from django.test import Client

import tests.support.probes  # noqa: F401  (registers the probe tasks in this process)
from apps.common.errors import ApplicationError
from apps.ops.models import FailedTask
from apps.ops.services import failed_task_retry
from config.env import BASE_DIR
from devstack.processes import wait_for
from tests.support.factories import FailedTaskFactory, MemberFactory
from tests.support.outage import broker_away
from tests.support.workers import database_url

pytestmark = pytest.mark.django_db(transaction=True)


def published(redis_client, queue: str = "payments") -> list[list]:
    """The args of every message waiting on ``queue``."""
    return [
        json.loads(base64.b64decode(json.loads(m)["body"]))[0]
        for m in redis_client.lrange(queue, 0, -1)
    ]


class Rollback(Exception):
    pass


def test_a_retry_in_a_transaction_that_rolls_back_publishes_nothing(redis_client, empty_queues):
    row = FailedTaskFactory(args=["probe:rolled-back"])
    with pytest.raises(Rollback), transaction.atomic():
        failed_task_retry(failed_task_id=row.pk)
        assert published(redis_client) == []  # not before the commit
        raise Rollback
    assert published(redis_client) == []
    assert FailedTask.objects.filter(pk=row.pk).exists()


def test_a_retry_publishes_once_it_commits(redis_client, empty_queues):
    row = FailedTaskFactory(args=["probe:committed"])
    retried = failed_task_retry(failed_task_id=row.pk)
    [message] = redis_client.lrange("payments", 0, -1)
    assert json.loads(message)["headers"]["id"] == retried.task_id
    assert published(redis_client) == [["probe:committed"]]
    assert not FailedTask.objects.filter(pk=row.pk).exists()


def test_the_cli_and_two_staff_on_the_page_retrying_at_once_publish_each_task_once(
    redis_client, empty_queues
):
    rows = [FailedTaskFactory(args=[f"probe:race-{n}"]) for n in range(60)]
    staff = [Client(), Client()]
    for client in staff:
        client.force_login(MemberFactory(is_staff=True, is_superuser=True))
    answers: list[int] = []

    def page(client: Client, order: list) -> None:
        for row in order:
            answers.append(client.post(f"/admin/ops/failed/{row.pk}/retry/").status_code)

    cli = subprocess.Popen(
        [sys.executable, "manage.py", "queue_retry", "all", "--json"],
        cwd=BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "WORKER_EXTRA_IMPORTS": "tests.support.probes",  # the rows' task, registered
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    threads = [
        threading.Thread(target=page, args=(staff[0], rows)),
        threading.Thread(target=page, args=(staff[1], rows[::-1])),
    ]
    # The page joins in once the CLI is under way, so all three take rows from one another.
    ids = [row.pk for row in rows]
    wait_for(
        lambda: FailedTask.objects.filter(pk__in=ids).count() < len(ids) or cli.poll() is not None,
        timeout=60,
        interval=0.01,
        what="queue_retry to start",
    )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    out, err = cli.communicate(timeout=120)

    sent = published(redis_client)
    assert sorted(sent) == sorted([row.args for row in rows])  # every task once, none twice
    assert not FailedTask.objects.filter(pk__in=[r.pk for r in rows]).exists()
    by_cli = len(json.loads(out)) if out.strip().startswith("[") else 0
    assert answers.count(200) + by_cli == len(rows), (answers, out, err)
    assert set(answers) <= {200, 409}
    # all three took part
    assert by_cli and answers.count(200), (by_cli, answers.count(200), cli.returncode, out, err)


def test_a_retry_the_broker_refuses_keeps_the_row(tmp_path, empty_queues):
    row = FailedTaskFactory(args=["probe:refused"])
    with broker_away(tmp_path), pytest.raises(ApplicationError, match="the broker does not answer"):
        failed_task_retry(failed_task_id=row.pk)
    kept = FailedTask.objects.get(task_id=row.task_id)
    assert (kept.pk, kept.args, kept.attempts) == (row.pk, row.args, row.attempts)
