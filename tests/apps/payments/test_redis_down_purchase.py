"""Buying while Redis is down: a Redis of this test's own (the suite's stays up for every
other test) is stopped under the live server and a real payments worker, a purchase is
answered 202 (its row is committed; the enqueue fails quietly), and once that Redis is back on
the same port the reconciler pushes the STK request: one prompt, one payment fulfilled,
nothing lost or doubled."""

import contextlib
import time

import pytest
import redis

from apps.ops.models import AdminEvent
from apps.payments.models import Payment, StkRequest
from config.celery import app
from devstack.processes import LocalRedis, answers, wait_for
from tests.apps.payments.conftest import LIVE_ENV
from tests.support.daraja_live import buy, events, new_phone, pushes, settle
from tests.support.workers import ProbeWorker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker(tmp_path, settings):
    """A private Redis that this process (the live server included) publishes to."""
    server = LocalRedis(tmp_path / "redis").start()
    suites = app.conf.broker_url
    settings.CELERY_BROKER_URL = app.conf.broker_url = server.url
    app._after_fork()
    yield server
    app.conf.broker_url = suites
    app._after_fork()
    server.stop()


def test_a_purchase_while_redis_is_down_is_pushed_once_redis_is_back(
    broker, live_server, simulator, knobs, on_sale, tmp_path
):
    env = {
        "REDIS_URL": broker.url,
        "DARAJA_BASE_URL": simulator.url,
        "DARAJA_CALLBACK_BASE_URL": live_server.url,
        **LIVE_ENV,
    }
    worker = ProbeWorker(tmp_path, queue_names=["payments"], concurrency=2, env=env).start()
    back = None
    try:
        phone = new_phone()
        knobs(phone_outcomes={phone: 0})
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(broker.url).shutdown(nosave=True)
        wait_for(lambda: not answers(broker.url, timeout=0.2), what="Redis to stop")

        started = time.monotonic()
        payment_id = buy(live_server.url, phone)
        assert time.monotonic() - started < 20  # answered, not hung on the broker
        payment = Payment.objects.get(pk=payment_id)
        assert payment.status == "pending"
        assert not StkRequest.objects.filter(payment=payment).exists()

        back = LocalRedis(tmp_path / "redis-back", port=broker.port).start()
        app._after_fork()  # this process's pooled connections died with the old server
        wait_for(worker.consuming, timeout=90, interval=0.5, what="the worker to reconnect")
        assert pushes(simulator, phone) == []  # nothing reached Daraja while Redis was down

        # RECONCILE_PUSH_AFTER (8 s) after the purchase, the reconciler pushes it.
        assert settle([payment_id], timeout=90) == {payment_id: "fulfilled"}
        payment.refresh_from_db()
        [push] = pushes(simulator, phone)
        assert payment.mpesa_receipt == push["receipt"]
        assert StkRequest.objects.filter(payment=payment).count() == 1
        assert payment.nudges == 1
        assert events(payment_id, AdminEvent.Type.PAYMENT_PROCESSED) == 1
    finally:
        worker.stop()
        if back is not None:
            back.stop()
