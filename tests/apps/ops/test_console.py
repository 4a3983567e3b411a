"""The operations page, its data, its actions and its live event stream: staff only."""

import json
import threading
from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command
from django.test import Client

from apps.ops.models import AdminEvent, FailedTask
from apps.ops.services import event_emit
from config import queues
from tests.support.factories import FailedTaskFactory, MemberFactory

URLS = ["/admin/ops/data/", "/admin/ops/events/"]


@pytest.fixture
def member_client(db):
    client = Client()
    client.force_login(MemberFactory())
    return client


@pytest.mark.django_db
def test_the_page_sends_strangers_to_the_admin_login(client, member_client):
    for c in (client, member_client):
        response = c.get("/admin/ops/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", URLS)
def test_data_and_events_refuse_strangers(client, member_client, url):
    assert client.get(url).status_code == 401
    assert member_client.get(url).status_code == 403


@pytest.mark.django_db
def test_actions_refuse_strangers(client, member_client):
    row = FailedTaskFactory()
    for c in (client, member_client):
        for url in (f"/admin/ops/failed/{row.pk}/retry/", "/admin/ops/failed/flush/"):
            assert c.post(url).status_code in (401, 403)
    assert FailedTask.objects.filter(pk=row.pk).exists()


def test_staff_see_every_queue_the_failures_and_the_schedules(staff_client, empty_queues):
    call_command("setup_schedules", stdout=StringIO())
    FailedTaskFactory(tags=" payment:abc ")
    FailedTaskFactory(tags=" router:2 ")
    page = staff_client.get("/admin/ops/")
    assert page.status_code == 200 and b"Live events" in page.content
    data = staff_client.get("/admin/ops/data/").json()
    assert [q["queue"] for q in data["queues"]] == list(queues.NAMES)
    assert all(q["depth"] == 0 for q in data["queues"])
    assert len(data["failed"]) == 2
    assert {s["name"] for s in data["schedules"]} >= {"commissions: disburse"}
    assert all(s["next_run_at"] for s in data["schedules"] if s["enabled"])
    narrowed = staff_client.get("/admin/ops/data/", {"tag": "payment:abc"}).json()
    assert [f["tags"] for f in narrowed["failed"]] == [["payment:abc"]]


def test_forget_and_flush_from_the_page(staff_client):
    rows = [FailedTaskFactory() for _ in range(3)]
    assert staff_client.post(f"/admin/ops/failed/{rows[0].pk}/forget/").status_code == 200
    assert staff_client.post(f"/admin/ops/failed/{rows[0].pk}/forget/").status_code == 409
    assert staff_client.post("/admin/ops/failed/flush/").json() == {"ok": True, "deleted": 2}
    assert staff_client.get(f"/admin/ops/failed/{rows[1].pk}/retry/").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_events_stream_to_staff_live_and_catch_up_after_a_reconnect(live_server, settings):
    settings.EVENT_STREAM_SECONDS = 3
    staff = MemberFactory(is_staff=True)
    staff.set_password("a-staff-password-1")
    staff.save()
    session = requests.Session()
    login = f"{live_server.url}/admin/login/"
    session.get(login, timeout=10)
    session.post(
        login,
        data={
            "username": staff.phone,
            "password": "a-staff-password-1",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login},
        timeout=10,
    )
    missed = event_emit(type=AdminEvent.Type.PAYMENT_FAILED, payload={"payment_id": "p1"})

    def later():
        event_emit(type=AdminEvent.Type.QUEUE_BUSY, payload={"queue": "payments"})

    timer = threading.Timer(0.8, later)
    timer.start()
    url = f"{live_server.url}/admin/ops/events/"
    after = {"Last-Event-ID": str(missed.pk - 1)}  # as a browser reconnecting would send
    with session.get(url, headers=after, stream=True, timeout=10) as r:
        assert r.status_code == 200 and r.headers["Content-Type"] == "text/event-stream"
        body = r.content.decode()  # the stream ends after EVENT_STREAM_SECONDS
    timer.join()
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert [(e["type"], e["tags"]) for e in events] == [
        ("payment_failed", ["payment:p1"]),
        ("queue_busy", ["queue:payments"]),
    ]
    assert f"id: {missed.pk}" in body


def test_flower_refuses_to_start_without_credentials(monkeypatch):
    monkeypatch.delenv("FLOWER_BASIC_AUTH", raising=False)
    with pytest.raises(CommandError, match="FLOWER_BASIC_AUTH"):
        call_command("flower")
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "admin:")
    with pytest.raises(CommandError, match="FLOWER_BASIC_AUTH"):
        call_command("flower")
