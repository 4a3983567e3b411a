"""Chains with a catch under a real worker: a link that fails for good is a FailedTask with
the rest of its chain, the catch runs once, and queue_retry continues the chain from there."""

import pytest
from django.core.management import call_command
from django.db import transaction

from apps.common.errors import ApplicationError
from apps.ops.chains import chain_dispatch
from apps.ops.models import FailedTask
from devstack.processes import wait_for
from tests.support import probes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_failed_link_runs_the_catch_and_a_retry_continues_the_chain(
    worker, empty_queues, redis_client, key
):
    with transaction.atomic():
        chain_dispatch(
            probes.link.si(key, 1),
            probes.link.si(key, 2, fail=True),
            probes.link.si(key, 3),
            probes.link.si(key, 4),
            catch=probes.callback.si(key, "catch"),
        )
    row = wait_for(lambda: FailedTask.objects.first(), what="the failed link")
    wait_for(lambda: redis_client.llen(f"{key}:catch"), what="the catch")
    assert redis_client.lrange(key, 0, -1) == ["1"]  # the chain stopped at the failed link
    assert redis_client.lrange(f"{key}:catch", 0, -1) == [row.task_id]
    assert row.kwargs == {"fail": True}
    assert [link["kwargs"] for link in row.workflow["chain"]] == [{}, {}]  # links 4, 3

    redis_client.set(f"{key}:heal", 1)
    call_command("queue_retry", str(row.pk))
    wait_for(lambda: redis_client.llen(key) == 4, what="the chain to continue")
    assert redis_client.lrange(key, 0, -1) == ["1", "2", "3", "4"]
    assert redis_client.llen(f"{key}:catch") == 1
    assert not FailedTask.objects.exists()


def test_a_link_that_continues_hands_the_rest_of_the_chain_on(
    worker, empty_queues, redis_client, key
):
    with transaction.atomic():
        chain_dispatch(probes.long_link.si(key, 1), probes.link.si(key, 2))
    wait_for(lambda: redis_client.llen(key) == 2, what="both links")
    assert redis_client.lrange(key, 0, -1) == ["1", "2"]  # the second after the continuations


def test_a_catch_that_cannot_take_the_failed_task_is_refused(key):
    with pytest.raises(ApplicationError, match="is called with failed_task_id="):
        chain_dispatch(probes.link.si(key, 1), catch=probes.listener.si())
