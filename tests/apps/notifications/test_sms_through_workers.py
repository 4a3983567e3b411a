"""SMS through real workers and the Africa's Talking simulator over HTTP: a purchase ends with
the buyer's credentials texted to them; a worker killed after the gateway took a message does
not send it again; delivery reports settle it."""

import os
import signal

import pytest
import requests
from django.conf import settings

from apps.notifications.models import Channel, Notification, Status
from apps.notifications.services import notify
from apps.provisioning.models import Subscription
from devstack.processes import wait_for
from tests.apps.notifications.conftest import at_env
from tests.support.daraja_live import provisioned
from tests.support.factories import MemberFactory, RouterFactory
from tests.support.workers import ProbeWorker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def report_url(live_server) -> str:
    return f"{live_server.url}/hooks/sms/{settings.SMS_DELIVERY_TOKEN}/"


def status(row: Notification) -> str:
    row.refresh_from_db()
    return row.status


def test_a_purchase_ends_with_the_credentials_sms_to_the_buyer(
    tmp_path, live_server, simulator, router_sim, sms_sim, settings, package, empty_queues
):
    settings.PURCHASE_RATE_EXEMPT_IPS = ["127.0.0.1"]
    settings.PURCHASE_RATE_PER_PHONE = "100/60"
    router_sim.reset()
    RouterFactory(name="Office", port=router_sim.port)
    sms_sim.reset()
    sms_sim.knobs(dlr_url=report_url(live_server), dlr_delay=0.1)
    requests.post(f"{simulator.url}/simulator/config", json={"outcomes": {"0": 1}}, timeout=5)
    worker = ProbeWorker(
        tmp_path,
        queue_names=["payments", "provisioning", "notifications"],
        concurrency=2,
        env=at_env(
            sms_sim, DARAJA_BASE_URL=simulator.url, DARAJA_CALLBACK_BASE_URL=live_server.url
        ),
    ).start()
    try:
        bought = requests.post(
            f"{live_server.url}/api/purchases/",
            json={"phone": "0712345670", "package": "1h"},
            timeout=30,
        )
        sub = provisioned(live_server.url, bought.json()["payment_id"])
        (message,) = sms_sim.wait_for_messages(1, timeout=30)
        row = Notification.objects.get(kind="wifi_credentials")
        wait_for(lambda: status(row) == Status.DELIVERED, what="the delivery report")
    finally:
        worker.stop()

    assert message["to"] == "+254712345670"
    assert sub["username"] in message["message"] and sub["password"] in message["message"]
    assert "Valid until" in message["message"]
    assert (row.provider_id, row.attempts) == (message["id"], 1)
    assert Subscription.objects.get(username=sub["username"]).member_id == row.member_id
    assert len(sms_sim.messages()) == 1


def test_a_worker_killed_after_the_gateway_took_the_sms_does_not_send_it_again(
    tmp_path, live_server, sms_sim, empty_queues
):
    sms_sim.reset()
    sms_sim.knobs(slow_answer=3.0)  # the gateway takes the message, then is slow to answer
    worker = ProbeWorker(
        tmp_path, queue_names=["notifications"], concurrency=1, env=at_env(sms_sim)
    ).start()
    try:
        member = MemberFactory(phone="254711222333")
        (row,) = notify(
            member=member,
            kind="provisioning_delayed",
            context={"operator": "Op", "package": "1 hour", "reference": "R1"},
        )
        sms_sim.wait_for_messages(1)
        (child,) = worker.children()
        os.kill(child, signal.SIGKILL)  # after the gateway took it, before we read its answer
        wait_for(lambda: status(row) == Status.UNKNOWN, timeout=30, what="the rerun to settle")
        row.refresh_from_db()
        assert row.attempts == 1 and "may have been sent" in row.error
        assert len(sms_sim.messages()) == 1

        # The gateway's delivery report names an id we never recorded: it is this row's.
        sms_sim.knobs(dlr_url=report_url(live_server))
        (message,) = sms_sim.messages()
        requests.post(
            f"{sms_sim.url}/simulator/resend", json={"id": message["id"]}, timeout=5
        ).raise_for_status()
        wait_for(lambda: status(row) == Status.DELIVERED, what="the report to settle it")
        row.refresh_from_db()
        assert row.provider_id == message["id"]
    finally:
        worker.stop()
    assert len(sms_sim.messages()) == 1
    assert not Notification.objects.filter(channel=Channel.SMS).exclude(pk=row.pk).exists()
