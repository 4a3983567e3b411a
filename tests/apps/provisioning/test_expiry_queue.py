"""Expiry through the queue on real workers: beat's sweep expires a due subscription, a router
down at expiry loses the user once it is back (RADIUS refuses at once), and a late or
redelivered provision job does not bring an expired user back."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from apps.provisioning import services
from apps.provisioning.models import RadCheck, Subscription
from devstack.processes import wait_for
from tasks.provisioning import expire_subscription, provision_subscription
from tests.support.beat import Beat
from tests.support.workers import ProbeWorker, database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]  # real workers


@pytest.fixture
def provisioning_worker(tmp_path, router):
    # Backoff at a fifth of the table's (1, 3, 6 ... s): time to look while the router is away.
    worker = ProbeWorker(
        tmp_path, queue_names=["provisioning"], env={"TASK_BACKOFF_SCALE": "0.2"}
    ).start()
    yield worker
    worker.stop()


def hand_off(paid, *, ended: bool = False) -> Subscription:
    """A subscription whose provision job goes through the queue on commit: provisioned by
    the worker, or, ``ended`` before it commits, left PENDING past its end."""
    with transaction.atomic():
        payment, member = paid(phone=f"2547{time.monotonic_ns() % 10**8:08d}")
        sub = services.subscription_create_for_payment(payment=payment, member=member)
        if ended:
            end_now(sub)
    if not ended:
        wait_for(lambda: status_of(sub) == "provisioned", what="the worker to provision it")
    return sub


def end_now(sub: Subscription) -> None:
    Subscription.objects.filter(pk=sub.pk).update(ends_at=timezone.now() - timedelta(seconds=1))


def status_of(sub: Subscription) -> str:
    return Subscription.objects.get(pk=sub.pk).status


def users(router_sim) -> list[str]:
    return [u["name"] for u in router_sim.state()["users"]]


def test_beat_runs_the_expiry_sweep_on_a_worker(
    tmp_path, provisioning_worker, router_sim, paid, empty_queues
):
    sub = hand_off(paid)
    assert users(router_sim) == [sub.username]
    end_now(sub)
    every, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="test: expiry every second",
        task="tasks.provisioning.expire_subscriptions",
        interval=every,
    )
    beat = Beat(tmp_path, {**provisioning_worker.env, "DATABASE_URL": database_url()}, "beat")
    try:
        wait_for(lambda: status_of(sub) == "expired", timeout=60, what="beat's sweep to expire it")
    finally:
        beat.stop()
    assert users(router_sim) == []
    assert not RadCheck.objects.filter(username=sub.username).exists()
    assert "tasks.provisioning.expire_subscription" in provisioning_worker.log()


def test_a_router_down_at_expiry_loses_the_user_when_it_is_back(
    freeradius, provisioning_worker, router_sim, paid, empty_queues
):
    sub = hand_off(paid)
    assert "Received Access-Accept" in freeradius.authenticate(sub.username, sub.password)
    end_now(sub)
    router_sim.knobs(down=True)
    expire_subscription.delay(subscription_id=str(sub.pk))

    def retried() -> bool:
        return "task.retry" in provisioning_worker.log() and "expire_subscription" in (
            provisioning_worker.log()
        )

    wait_for(retried, timeout=30, what="the expiry to fail on the router and be retried")
    # RADIUS refuses at once; the router still has the user until it answers again.
    assert not RadCheck.objects.filter(username=sub.username).exists()
    answer = freeradius.authenticate(sub.username, sub.password)
    assert "Received Access-Reject" in answer, answer
    assert users(router_sim) == [sub.username]
    assert status_of(sub) == "provisioned"

    router_sim.knobs(down=False)
    wait_for(lambda: status_of(sub) == "expired", timeout=60, what="a retry once it is back")
    assert users(router_sim) == []


def idle(redis_client) -> bool:
    return not redis_client.llen("provisioning") and not redis_client.hlen("unacked")


@pytest.mark.parametrize("expired", [True, False], ids=["expired", "pending-past-end"])
def test_a_late_provision_job_does_not_bring_an_expired_user_back(
    provisioning_worker, router_sim, paid, redis_client, empty_queues, expired
):
    if expired:  # provisioned, expired for good, then the job comes again (a redelivery)
        sub = hand_off(paid)
        end_now(sub)
        assert services.subscription_expire(subscription_id=sub.pk) == "expired"
    else:  # its first job comes only after its end (a backlog, a router away for long)
        sub = hand_off(paid, ended=True)
    assert users(router_sim) == []
    sent = provision_subscription.delay(subscription_id=str(sub.pk))
    wait_for(
        lambda: f"task.finish id={sent.id}" in provisioning_worker.log(),
        what="the job to finish on the worker",
    )
    wait_for(lambda: idle(redis_client), what="every provision job run and acknowledged")
    assert users(router_sim) == []
    assert status_of(sub) == ("expired" if expired else "pending")
