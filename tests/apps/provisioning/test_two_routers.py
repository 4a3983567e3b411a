"""Two hotspots, two RouterOS simulators: a purchase over HTTP naming one lands on that
router only, and expiry takes it off that router."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from apps.provisioning.models import Subscription
from devstack.processes import wait_for
from tasks.provisioning import expire_subscriptions
from tests.support.daraja_live import provisioned
from tests.support.factories import RouterFactory
from tests.support.routers import RouterSim
from tests.support.workers import ProbeWorker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def second_sim(tmp_path):
    sim = RouterSim(tmp_path / "cafe.log", "--identity", "hs-cafe").start()
    yield sim
    sim.stop()


def names(sim) -> list[str]:
    return [u["name"] for u in sim.state()["users"]]


def test_a_purchase_lands_on_the_named_router_only_and_expires_there(
    tmp_path, live_server, simulator, router_sim, second_sim, package, settings, empty_queues
):
    settings.PURCHASE_RATE_EXEMPT_IPS = ["127.0.0.1"]
    settings.PURCHASE_RATE_PER_PHONE = "100/60"
    router_sim.reset()
    office_logins = router_sim.state()["counts"]["logins"]
    requests.post(f"{simulator.url}/simulator/config", json={"outcomes": {"0": 1}}, timeout=5)
    RouterFactory(name="Office", identity="hs-office", port=router_sim.port)
    cafe = RouterFactory(name="Cafe", identity="hs-cafe", port=second_sim.port)
    worker = ProbeWorker(
        tmp_path,
        queue_names=["payments", "provisioning"],
        concurrency=2,
        env={"DARAJA_BASE_URL": simulator.url, "DARAJA_CALLBACK_BASE_URL": live_server.url},
    ).start()
    try:
        refused = requests.post(
            f"{live_server.url}/api/purchases/",
            json={"phone": "0712345678", "package": "1h"},
            timeout=30,
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "router_required"

        bought = requests.post(
            f"{live_server.url}/api/purchases/",
            json={"phone": "0712345678", "package": "1h", "router": "hs-cafe"},
            timeout=30,
        )
        assert bought.status_code == 202, bought.text
        sub = provisioned(live_server.url, bought.json()["payment_id"])
        assert names(second_sim) == [sub["username"]]
        assert names(router_sim) == []
        subscription = Subscription.objects.get(username=sub["username"])
        assert subscription.router == cafe

        Subscription.objects.filter(pk=subscription.pk).update(
            ends_at=timezone.now() - timedelta(seconds=1)
        )
        expire_subscriptions.delay()  # as beat does every 5 minutes
        wait_for(
            lambda: Subscription.objects.get(pk=subscription.pk).status == "expired",
            timeout=30,
            what="the subscription to expire",
        )
    finally:
        worker.stop()
    assert names(second_sim) == [] and names(router_sim) == []
    assert router_sim.state()["counts"]["logins"] == office_logins  # never asked the other one
