"""Buying while Redis is down: the suite's own redis-server is stopped under the live server
and a real payments worker, a purchase is answered 202 (its row is committed; the enqueue
fails quietly), and once Redis is back on the same port the reconciler pushes the STK
request: one prompt, one payment fulfilled, nothing lost or doubled."""

import contextlib
import os
import time
from urllib.parse import urlsplit

import pytest
import redis

from apps.common.redis_client import client as shared_redis
from apps.ops.models import AdminEvent
from apps.payments.models import Payment, StkRequest
from config.celery import app
from devstack.processes import LocalRedis, answers, wait_for
from tests.support.daraja_live import buy, events, new_phone, pushes, settle

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_purchase_while_redis_is_down_is_pushed_once_redis_is_back(
    daraja_worker, live_server, simulator, knobs, on_sale, redis_client, request, tmp_path
):
    phone = new_phone()
    knobs(phone_outcomes={phone: 0})
    url = os.environ["REDIS_URL"]
    with contextlib.suppress(redis.ConnectionError):
        redis_client.shutdown(nosave=True)
    wait_for(lambda: not answers(url, timeout=0.2), what="Redis to stop")

    started = time.monotonic()
    payment_id = buy(live_server.url, phone)
    assert time.monotonic() - started < 20  # answered, not hung on the broker
    payment = Payment.objects.get(pk=payment_id)
    assert payment.status == "pending" and not StkRequest.objects.filter(payment=payment).exists()

    back = LocalRedis(tmp_path / "redis", port=urlsplit(url).port).start()
    request.config.add_cleanup(back.stop)  # the suite's Redis from here on
    # This process's pooled connections died with the old server: new ones for the tests after.
    app._after_fork()
    redis_client.connection_pool.disconnect()
    shared_redis().connection_pool.disconnect()
    wait_for(daraja_worker.consuming, timeout=90, interval=0.5, what="the worker to reconnect")
    assert pushes(simulator, phone) == []  # nothing reached Daraja while Redis was down

    # RECONCILE_PUSH_AFTER (8 s) after the purchase, the reconciler pushes it.
    assert settle([payment_id], timeout=90) == {payment_id: "fulfilled"}
    payment.refresh_from_db()
    [push] = pushes(simulator, phone)
    assert payment.mpesa_receipt == push["receipt"]
    assert StkRequest.objects.filter(payment=payment).count() == 1
    assert payment.nudges == 1
    assert events(payment_id, AdminEvent.Type.PAYMENT_PROCESSED) == 1
