"""Payments end to end over sockets: the web tier (live server), a real payments worker
pool, Redis, and the Daraja simulator calling back over HTTP."""

import json
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
import requests
from django.conf import settings

from apps.ops.models import AdminEvent
from apps.payments.models import Package, Payment, StkRequest, Suspense
from apps.provisioning.models import Subscription
from devstack.processes import wait_for
from tests.support.daraja_live import FINAL, buy, events, settle
from tests.support.workers import ProbeWorker, held, kill_holding

pytestmark = pytest.mark.django_db(transaction=True)

RECONCILE = {
    "RECONCILE_QUERY_AFTER": "2",
    "RECONCILE_NUDGE_AFTER": "2",
    "RECONCILE_PUSH_AFTER": "3",
    "PAYMENT_EXPIRE_AFTER": "300",
}


def worker_env(simulator, live_server) -> dict:
    return {
        "DARAJA_BASE_URL": simulator.url,
        "DARAJA_CALLBACK_BASE_URL": live_server.url,
        **RECONCILE,
    }


@pytest.fixture
def stack(simulator, live_server, settings, tmp_path, empty_queues):
    """A payments pool of the table's size, buying open to this machine, a package on sale."""
    settings.PURCHASE_RATE_EXEMPT_IPS = ["127.0.0.1"]
    settings.PURCHASE_RATE_PER_PHONE = "100/60"
    Package.objects.create(code="1h", name="Normal 1 Hour", price=50, duration=timedelta(hours=1))
    worker = ProbeWorker(
        tmp_path, queue_names=["payments"], concurrency=4, env=worker_env(simulator, live_server)
    ).start()
    yield worker
    worker.stop()


def poll(base_url: str, payment_id: str) -> dict:
    return requests.get(f"{base_url}/api/payments/{payment_id}/", timeout=30).json()


def processed(payment_id: str) -> int:
    return events(payment_id, AdminEvent.Type.PAYMENT_PROCESSED)


@pytest.mark.parametrize(
    "code, status",
    [(0, "fulfilled"), (1032, "cancelled"), (1037, "failed"), (1, "failed"), (2001, "failed")],
)
def test_purchase_to_final_state_over_http(stack, live_server, knobs, code, status):
    phone = f"2547{uuid.uuid4().int % 10**8:08d}"
    knobs(phone_outcomes={phone: code})
    payment_id = buy(live_server.url, phone)

    state = wait_for(
        lambda: (s := poll(live_server.url, payment_id))["status"] in FINAL and s,
        timeout=60,
        what="the payment to settle",
    )
    assert state["status"] == status
    payment = Payment.objects.get(pk=payment_id)
    assert payment.result_code == str(code)
    assert StkRequest.objects.filter(payment=payment).count() == 1
    if status == "fulfilled":
        assert state["receipt"] and state["paid_at"] and state["fulfilled_at"]
        assert payment.member.phone == phone
        assert processed(payment_id) == 1
    else:
        assert state["reason"] and processed(payment_id) == 0
        assert (
            AdminEvent.objects.filter(
                type=AdminEvent.Type.PAYMENT_FAILED, payload__payment__id=payment_id
            ).count()
            == 1
        )


def test_one_callback_delivered_twenty_times_at_once_pays_and_hands_off_once(
    stack, live_server, knobs
):
    knobs(drop_rate=1.0)  # only our copies arrive
    payment_id = buy(live_server.url, "254711000020")
    stk = wait_for(
        lambda: StkRequest.objects.filter(payment_id=payment_id).first(), what="the STK push"
    )
    body = json.dumps(
        {
            "Body": {
                "stkCallback": {
                    "MerchantRequestID": stk.merchant_request_id,
                    "CheckoutRequestID": stk.checkout_request_id,
                    "ResultCode": 0,
                    "ResultDesc": "The service request is processed successfully.",
                    "CallbackMetadata": {
                        "Item": [
                            {"Name": "Amount", "Value": 50},
                            {"Name": "MpesaReceiptNumber", "Value": "TDUP20X2AB"},
                            {"Name": "TransactionDate", "Value": 20261123101547},
                            {"Name": "PhoneNumber", "Value": 254711000020},
                        ]
                    },
                }
            }
        }
    )
    url = f"{live_server.url}/hooks/stk/{settings.DARAJA_CALLBACK_TOKEN}/"
    with ThreadPoolExecutor(20) as pool:
        answers = list(
            pool.map(
                lambda _: requests.post(
                    url, data=body, headers={"Content-Type": "application/json"}, timeout=30
                ),
                range(20),
            )
        )
    assert [a.status_code for a in answers] == [200] * 20
    assert all(a.json() == {"ResultCode": 0, "ResultDesc": "Accepted"} for a in answers)

    assert settle([payment_id], timeout=120) == {payment_id: "fulfilled"}
    assert processed(payment_id) == 1
    assert Payment.objects.get(pk=payment_id).mpesa_receipt == "TDUP20X2AB"


def test_a_dropped_callback_is_settled_by_stk_query(stack, live_server, knobs):
    knobs(drop_rate=1.0)
    payment_id = buy(live_server.url, "254711000404")
    assert settle([payment_id], timeout=120) == {payment_id: "fulfilled"}
    payment = Payment.objects.get(pk=payment_id)
    assert "stk_query" in payment.raw_callback and payment.mpesa_receipt is None
    assert StkRequest.objects.get(payment=payment).queried_at is not None
    assert processed(payment_id) == 1


def burst(base_url: str, count: int, prefix: str, under_way, disrupt) -> list[str]:
    """Buy ``count`` packages from 8 clients; once ``under_way()``, ``disrupt()`` the stack."""

    def buy_all() -> list[str]:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda i: buy(base_url, f"2547{prefix}{i:05d}"), range(count)))

    with ThreadPoolExecutor(1) as background:
        purchases = background.submit(buy_all)
        wait_for(under_way, timeout=60, what="the burst to be under way")
        disrupt()
        return purchases.result()


def test_a_payments_worker_killed_mid_burst_loses_and_doubles_nothing(
    stack, live_server, knobs, simulator, tmp_path, redis_client
):
    knobs(outcomes={"0": 1})
    before = set(held(redis_client, "payments"))
    at_kill = {}

    def kill_mid_task():
        at_kill["held"] = kill_holding(stack, redis_client, "payments", before)
        at_kill["fulfilled"] = Payment.objects.filter(status="fulfilled").count()

    ids = burst(
        live_server.url,
        200,
        "200",
        lambda: Payment.objects.filter(status="fulfilled").count() >= 30,
        kill_mid_task,
    )
    # The pool held payments' messages when it died, and left payments to do.
    interrupted = at_kill["held"]
    assert {m.task for m in interrupted} & {
        "tasks.payments.request_stk_push",
        "tasks.payments.fulfil_payment",
    }, interrupted
    assert at_kill["fulfilled"] < 200
    replacement = ProbeWorker(
        tmp_path, queue_names=["payments"], concurrency=4, env=worker_env(simulator, live_server)
    ).start()
    try:
        states = settle(ids, timeout=180)
    finally:
        replacement.stop()
    assert set(states.values()) == {"fulfilled"}
    # Fulfilled once each: one subscription per payment (the interrupted ones too), one event.
    subscriptions = Counter(
        Subscription.objects.filter(payment_id__in=ids).values_list("payment_id", flat=True)
    )
    assert len(subscriptions) == 200 and set(subscriptions.values()) == {1}
    cut = {m.kwargs["payment_id"] for m in interrupted if "payment_id" in m.kwargs}
    assert cut <= set(ids) and all(states[p] == "fulfilled" for p in cut)
    assert all(processed(payment_id) == 1 for payment_id in ids)
    # Nothing paid twice or kept aside: a push whose worker died before saving it was
    # recorded from its callback (the payment's reference is in the callback's path), so
    # the reconciler, which waits RECONCILE_PUSH_AFTER before pushing again, did not.
    assert not Suspense.objects.exists()
    assert all(StkRequest.objects.filter(payment_id=p).count() == 1 for p in ids)


def test_redis_flushed_mid_burst_the_reconciler_settles_everything(stack, live_server, knobs):
    knobs(outcomes={"0": 1})
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    ids = burst(
        live_server.url,
        100,
        "300",
        lambda: Payment.objects.exclude(status="pending").count() >= 20,
        client.flushall,
    )
    states = settle(ids, timeout=180)
    assert set(states.values()) == {"fulfilled"}
    assert all(processed(payment_id) == 1 for payment_id in ids)


def test_daraja_answering_500s_is_retried_then_the_payment_fails(stack, live_server, knobs):
    from apps.ops.models import FailedTask

    knobs(error_rate=1.0)
    payment_id = buy(live_server.url, "254711000500")
    state = wait_for(
        lambda: (s := poll(live_server.url, payment_id))["status"] in FINAL and s,
        timeout=60,
        what="the payment to fail",
    )
    assert state["status"] == "failed" and "STK push not sent" in state["reason"]
    row = FailedTask.objects.get(task_name="tasks.payments.request_stk_push")
    assert (row.attempts, row.reason) == (3, "exhausted")
    assert row.kwargs == {"payment_id": payment_id}


def test_every_callback_delivered_twice_still_pays_once(stack, live_server, knobs, simulator):
    def sent() -> int:
        state = requests.get(f"{simulator.url}/simulator/state", timeout=5).json()
        return state["counts"]["callbacks_sent"]

    before = sent()
    knobs(duplicate_rate=1.0, outcomes={"0": 1})
    ids = [buy(live_server.url, f"25471100{i:04d}") for i in range(5)]
    assert set(settle(ids, timeout=120).values()) == {"fulfilled"}
    assert all(processed(payment_id) == 1 for payment_id in ids)
    wait_for(lambda: sent() - before == 10, what="both copies of every callback")
