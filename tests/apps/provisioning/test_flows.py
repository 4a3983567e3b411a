"""Provisioning end to end through the queues: real workers, the Daraja and RouterOS
simulators over their protocols, the web tier over HTTP."""

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.management import call_command
from django.db import connection, transaction

from apps.notifications.models import Notification
from apps.ops.models import AdminEvent, FailedTask
from apps.provisioning import services
from apps.provisioning.models import RadCheck, Subscription
from config import queues
from devstack.processes import wait_for
from tasks.provisioning import provision_subscription, reconcile_subscriptions
from tests.support.daraja_live import provisioned
from tests.support.workers import BACKOFF_SCALE, ProbeWorker, broker_holds, held, kill_holding

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]  # real workers

PROVISIONING = queues.policy("provisioning")


def start_worker(tmp_path, names, concurrency=3, **env) -> ProbeWorker:
    return ProbeWorker(
        tmp_path,
        queue_names=names,
        concurrency=concurrency,
        env={"PROVISION_NUDGE_AFTER": "2", **env},
    ).start()


@pytest.fixture
def provisioning_worker(tmp_path, router):
    worker = start_worker(tmp_path, ["provisioning"])
    yield worker
    worker.stop()


def hand_off(paid) -> Subscription:
    with transaction.atomic():
        payment, member = paid(phone=f"2547{time.monotonic_ns() % 10**8:08d}")
        return services.subscription_create_for_payment(payment=payment, member=member)


def status_of(sub: Subscription) -> str:
    sub.refresh_from_db()
    return sub.status


def provisioned_events(sub: Subscription) -> int:
    return AdminEvent.objects.filter(
        type=AdminEvent.Type.USER_PROVISIONED, payload__subscription__id=sub.pk
    ).count()


def test_a_purchase_ends_with_a_user_on_the_router_and_in_radius(
    tmp_path, live_server, simulator, router, router_sim, settings, package, empty_queues
):
    settings.PURCHASE_RATE_EXEMPT_IPS = ["127.0.0.1"]
    settings.PURCHASE_RATE_PER_PHONE = "100/60"  # other tests may have bought with this phone
    requests.post(f"{simulator.url}/simulator/config", json={"outcomes": {"0": 1}}, timeout=5)
    worker = start_worker(
        tmp_path,
        ["payments", "provisioning"],
        concurrency=2,
        DARAJA_BASE_URL=simulator.url,
        DARAJA_CALLBACK_BASE_URL=live_server.url,
    )
    try:
        bought = requests.post(
            f"{live_server.url}/api/purchases/",
            json={"phone": "0712345678", "package": "1h"},
            timeout=30,
        )
        sub = provisioned(live_server.url, bought.json()["payment_id"])
    finally:
        worker.stop()
    [user] = router_sim.state()["users"]
    assert (user["name"], user["password"]) == (sub["username"], sub["password"])
    assert user["profile"] == "conveyor-1h"
    assert (
        RadCheck.objects.get(username=sub["username"], attribute="Cleartext-Password").value
        == sub["password"]
    )


def test_a_router_down_for_three_attempts_is_provisioned_with_the_backoff(
    provisioning_worker, paid, router_sim
):
    router_sim.knobs(refuse_next=3)
    started = time.monotonic()
    sub = hand_off(paid)
    wait_for(lambda: status_of(sub) == "provisioned", timeout=60, what="the fourth attempt")
    took = time.monotonic() - started
    backoff = sum(queues.backoff_delay(PROVISIONING.backoff, n) for n in (1, 2, 3))
    assert took >= backoff * BACKOFF_SCALE
    assert router_sim.state()["counts"]["refused"] == 3
    assert not FailedTask.objects.exists()
    assert provisioned_events(sub) == 1


def test_a_router_down_for_good_fails_then_queue_retry_provisions_it(
    provisioning_worker, paid, router_sim
):
    router_sim.knobs(down=True)
    sub = hand_off(paid)
    row = wait_for(
        lambda: FailedTask.objects.filter(
            task_name="tasks.provisioning.provision_subscription"
        ).first(),
        timeout=90,
        what="the failure to be recorded",
    )
    assert (row.attempts, row.reason) == (PROVISIONING.attempts, "exhausted")
    wait_for(lambda: status_of(sub) == "failed", what="the subscription to be marked failed")
    [event] = AdminEvent.objects.filter(type=AdminEvent.Type.PROVISIONING_FAILED)
    assert event.payload["subscription"]["id"] == sub.pk and "refused" in event.payload["error"]

    # The buyer was told we are on it (the event's listener), and gets the credentials once
    # it is done.
    texts = Notification.objects.filter(member_id=sub.member_id, channel="sms")
    wait_for(lambda: texts.exists(), what="the provisioning_failed listener")
    assert list(texts.values_list("kind", flat=True)) == ["provisioning_delayed"]

    router_sim.knobs(down=False)
    call_command("queue_retry", str(row.pk))
    wait_for(lambda: status_of(sub) == "provisioned", timeout=30, what="the retried job")
    assert [u["name"] for u in router_sim.state()["users"]] == [sub.username]
    wait_for(lambda: texts.count() == 2, what="the user_provisioned listener")
    assert sorted(texts.values_list("kind", flat=True)) == [
        "provisioning_delayed",
        "wifi_credentials",
    ]
    assert sub.username in texts.get(kind="wifi_credentials").body


def test_a_provisioning_worker_killed_mid_burst_provisions_each_user_once(
    tmp_path, router, router_sim, paid, empty_queues, redis_client
):
    router_sim.knobs(latency=0.01)  # each job a few round trips long: the kill lands mid-burst
    before = set(held(redis_client, "provisioning"))
    worker = start_worker(tmp_path, ["provisioning"])

    def hand_off_in_thread(_):
        try:
            return hand_off(paid)
        finally:
            connection.close()  # each thread's own; else the test database can't be dropped

    with ThreadPoolExecutor(4) as pool:
        subs = list(pool.map(hand_off_in_thread, range(100)))
    wait_for(
        lambda: Subscription.objects.filter(status="provisioned").count() >= 20,
        timeout=60,
        what="the burst to be under way",
    )
    job = "tasks.provisioning.provision_subscription"  # the credentials listeners share the queue
    interrupted = kill_holding(worker, redis_client, "provisioning", before, task=job)
    cut = {int(m.kwargs["subscription_id"]) for m in interrupted if m.task == job}
    assert cut and cut <= {s.pk for s in subs}, interrupted  # router jobs in hand when it died
    assert Subscription.objects.filter(status="provisioned").count() < 100

    replacement = start_worker(tmp_path, ["provisioning"])
    try:
        last = [0.0]

        def all_provisioned():
            if time.monotonic() - last[0] > 1:
                reconcile_subscriptions.delay()  # as beat would, every minute
                last[0] = time.monotonic()
            return Subscription.objects.filter(status="provisioned").count() == 100

        wait_for(all_provisioned, timeout=120, interval=0.25, what="every user provisioned")
    finally:
        replacement.stop()
    names = Counter(u["name"] for u in router_sim.state()["users"])
    assert names == Counter(s.username for s in subs)  # one router user each, none missing
    provisioned = Subscription.objects.filter(pk__in=[s.pk for s in subs], status="provisioned")
    assert provisioned.count() == 100 and cut <= set(provisioned.values_list("pk", flat=True))
    assert all(provisioned_events(s) == 1 for s in subs)


def test_provisioning_twice_through_the_queue_is_harmless(
    provisioning_worker, paid, router_sim, redis_client
):
    sub = hand_off(paid)
    wait_for(lambda: status_of(sub) == "provisioned", what="the first job")
    sent = [provision_subscription.delay(subscription_id=str(sub.pk)) for _ in range(2)]
    wait_for(
        lambda: not any(broker_holds(redis_client, r.id) for r in sent),
        what="both jobs run and acknowledged",
    )
    assert [u["name"] for u in router_sim.state()["users"]] == [sub.username]
    assert provisioned_events(sub) == 1
