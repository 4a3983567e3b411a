"""Staff send a message to a segment of members from admin (Broadcasts → Send a message): the
form, the confirm step with its counts, then a broadcast written by a real worker on the
notifications queue, its SMS at the Africa's Talking simulator and its mail at a real SMTP
server, one per member, nobody outside the segment; a double submit is one broadcast; bad
input is a form error that writes and queues nothing."""

import threading
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.notifications.models import Broadcast, Channel, Notification, Status
from apps.notifications.services import broadcast_advance
from apps.notifications.texts import sms_size
from apps.ops.models import Batch
from apps.wallets.models import Wallet
from devstack.processes import wait_for
from tests.apps.notifications.conftest import at_env
from tests.support.factories import MemberFactory
from tests.support.workers import ProbeWorker

SEND = "/admin/notifications/broadcast/send/"
NAIROBI = ZoneInfo("Africa/Nairobi")
UPLINE = "254711000001"


def joined(day: int, hour: int = 12, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=NAIROBI)


def form(**changes) -> dict:
    data = {
        "channels": ["sms"],
        "subject": "",
        "body": "Hello {name}, the <March> draw is on Friday & it's free.",
        "joined_from": "",
        "joined_to": "",
        "upline": "",
        "min_withdrawable": "",
    }
    return {**data, **changes}


def preview(client, **changes):
    return client.post(SEND, {**form(**changes), "stage": "preview"})


def confirmed(client, **changes) -> dict:
    """The confirm form's data, as its page carries it (with its token)."""
    page = preview(client, **changes)
    assert page.status_code == 200 and "token" in page.context, page.context["form"].errors
    data = page.context["form"].cleaned_data
    return {
        **form(**changes),
        "channels": data["channels"],
        "body": data["body"],
        "upline": data["upline"],
        "token": str(page.context["token"]),
        "stage": "send",
    }


def nothing_written(queued) -> bool:
    return (
        not (Broadcast.objects.exists() or Notification.objects.exists() or Batch.objects.exists())
        and queued() == []
    )


def finished(broadcast: Broadcast) -> bool:
    broadcast.refresh_from_db()
    batch = Batch.objects.get(pk=broadcast.batch_id)
    return broadcast.state == Broadcast.State.FINISHED and batch.finished_at is not None


@pytest.fixture
def segment_of_six():
    """Six members referred by UPLINE in March 2026, and members just outside that segment."""
    upline = MemberFactory(phone=UPLINE, name="Upline", date_joined=joined(1, month=1))
    other = MemberFactory(name="Other upline", date_joined=joined(1, month=1))
    inside = [
        MemberFactory(name=f"Wanjiru {n}", referred_by=upline, date_joined=joined(1 + 5 * n))
        for n in range(5)
    ]
    # The last minutes of the last day, in Nairobi, are inside it.
    inside.append(MemberFactory(name="", referred_by=upline, date_joined=joined(31, hour=23)))
    MemberFactory(name="Inactive", referred_by=upline, date_joined=joined(10), is_active=False)
    MemberFactory(name="Before", referred_by=upline, date_joined=joined(28, hour=23, month=2))
    MemberFactory(name="After", referred_by=upline, date_joined=joined(1, hour=0, month=4))
    MemberFactory(name="Elsewhere", referred_by=other, date_joined=joined(10))
    return inside


# --- through real workers ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_segment_gets_one_sms_each_and_nobody_outside_it(
    tmp_path, staff_client, sms_sim, segment_of_six, empty_queues
):
    sms_sim.reset()
    segment = {"upline": "0711 000 001", "joined_from": "2026-03-01", "joined_to": "2026-03-31"}
    page = preview(staff_client, **segment)
    assert page.context["reach"].members == 6
    assert b"to <strong>6</strong> members" in page.content
    worker = ProbeWorker(
        tmp_path, queue_names=["notifications"], concurrency=2, env=at_env(sms_sim)
    ).start()
    try:
        answer = staff_client.post(SEND, confirmed(staff_client, **segment))
        broadcast = Broadcast.objects.get()
        assert answer.status_code == 302
        assert answer.url == f"/admin/notifications/broadcast/{broadcast.pk}/change/"
        wait_for(lambda: finished(broadcast), timeout=60, what="the broadcast and its batch")
        received = sms_sim.wait_for_messages(6)
    finally:
        worker.stop()

    expected = {
        f"+{m.phone}": f"Hello {m.name or m.phone}, the <March> draw is on Friday & it's free."
        for m in segment_of_six
    }
    assert {m["to"]: m["message"] for m in received} == expected
    assert len(received) == 6
    assert (broadcast.total, broadcast.done, broadcast.percent) == (6, 6, 100.0)
    assert broadcast.channels == [Channel.SMS] and broadcast.segment["upline"] == UPLINE
    assert broadcast.sent_by.is_staff
    sms = Notification.objects.filter(kind="staff_message")
    assert sms.filter(channel=Channel.SMS, status=Status.SENT).count() == sms.count() == 6
    batch = Batch.objects.get(pk=broadcast.batch_id)
    assert (batch.total, batch.pending, batch.failed) == (7, 0, 0)  # the writer and six SMS

    detail = staff_client.get(answer.url)
    assert b"6 of 6 (100.0%)" in detail.content
    batch_page = f"/admin/ops/batches/{batch.pk}/"
    assert batch_page.encode() in detail.content
    assert staff_client.get(batch_page).status_code == 200
    listing = staff_client.get("/admin/notifications/broadcast/")
    assert b"6 of 6 (100.0%)" in listing.content and batch_page.encode() in listing.content


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_email_send_reaches_only_members_with_an_address(
    tmp_path, staff_client, smtp, empty_queues
):
    rich = [
        MemberFactory(name="Achieng <b>", email="achieng@example.com"),
        MemberFactory(name="Baraka", email="baraka@example.com"),
        MemberFactory(name="Chebet", email="chebet@example.com"),
        MemberFactory(name="No address"),
    ]
    poor = MemberFactory(name="Poor", email="poor@example.com")
    for member in rich:
        Wallet.objects.create(member=member, withdrawable=Decimal("150.00"))
    Wallet.objects.create(member=poor, withdrawable=Decimal("99.99"))
    message = {
        "channels": ["email"],
        "subject": "Your balance, {name}",
        "body": "Hello {name},\n\nWithdraw before <em>Friday</em> & {{ settings.SECRET_KEY }}.",
        "min_withdrawable": "100",
    }
    page = preview(staff_client, **message)
    assert (page.context["reach"].members, page.context["reach"].without_email) == (4, 1)
    assert b"1 of them has no email address" in page.content
    worker = ProbeWorker(tmp_path, queue_names=["notifications", "emails"], env=smtp.env()).start()
    try:
        staff_client.post(SEND, confirmed(staff_client, **message))
        broadcast = Broadcast.objects.get()
        wait_for(lambda: finished(broadcast), timeout=60, what="the broadcast and its batch")
        received = smtp.wait_for(3)
    finally:
        worker.stop()

    assert sorted(m["To"] for m in received) == [m.email for m in rich[:3]]
    assert len(smtp.received) == 3
    mail = next(m for m in received if m["To"] == "achieng@example.com")
    assert mail["Subject"] == "Your balance, Achieng <b>"
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert (
        "Hello Achieng <b>,\n\nWithdraw before <em>Friday</em> & {{ settings.SECRET_KEY }}." in text
    )
    html = mail.get_body(("html",)).get_content()
    assert "Hello Achieng &lt;b&gt;,</p>" in html and "&lt;em&gt;Friday&lt;/em&gt; &amp;" in html
    assert (broadcast.total, broadcast.done) == (3, 3)
    assert broadcast.segment["has_email"] is True  # mail alone: only members with an address
    assert not Notification.objects.filter(channel=Channel.SMS).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_double_submit_is_one_broadcast_and_one_message_each(
    tmp_path, staff_client, sms_sim, smtp, empty_queues
):
    sms_sim.reset()
    upline = MemberFactory(phone=UPLINE)
    members = [
        MemberFactory(referred_by=upline, name="Wanjiru", email="w@example.com"),
        MemberFactory(referred_by=upline, name="Otieno", email="o@example.com"),
        MemberFactory(referred_by=upline, name="Kamau"),
    ]
    data = confirmed(
        staff_client, channels=["sms", "email"], subject="Friday", upline="+254 711 000 001"
    )
    first = staff_client.post(SEND, data)
    second = staff_client.post(SEND, data, follow=True)
    broadcast = Broadcast.objects.get()
    assert first.url == second.redirect_chain[-1][0]
    assert b"This message was sent already" in second.content
    worker = ProbeWorker(
        tmp_path, queue_names=["notifications", "emails"], env=at_env(sms_sim, **smtp.env())
    ).start()
    try:
        wait_for(lambda: finished(broadcast), timeout=60, what="the broadcast and its batch")
        texts = sms_sim.wait_for_messages(3)
        mails = smtp.wait_for(2)
    finally:
        worker.stop()
    assert sorted(m["to"] for m in texts) == sorted(f"+{m.phone}" for m in members)
    assert sorted(m["To"] for m in mails) == ["o@example.com", "w@example.com"]
    assert (len(sms_sim.messages()), len(smtp.received)) == (3, 2)
    assert Broadcast.objects.count() == 1 and broadcast.total == 3


@pytest.mark.django_db(transaction=True)
def test_two_posts_at_the_same_instant_are_one_broadcast(staff_client, queued):
    upline = MemberFactory(phone=UPLINE)
    MemberFactory.create_batch(3, referred_by=upline)
    data = confirmed(staff_client, upline=UPLINE)
    session = staff_client.cookies
    barrier, answers = threading.Barrier(2), []

    def post():
        client = Client()
        client.cookies = session
        barrier.wait()
        answers.append(client.post(SEND, data).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [302, 302]
    broadcast = Broadcast.objects.get()
    writers = [q for q in queued() if q[1] == "tasks.notifications.advance_broadcast"]
    assert writers == [
        (
            "notifications",
            "tasks.notifications.advance_broadcast",
            {"broadcast_id": str(broadcast.pk)},
        )
    ]


# --- the pages and bad input ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_broadcast_list_offers_send_a_message_to_those_allowed(staff_client):
    listing = staff_client.get("/admin/notifications/broadcast/")
    assert SEND.encode() in listing.content
    assert staff_client.get(SEND).status_code == 200
    data = confirmed(staff_client)

    viewer = MemberFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_broadcast"))
    client = Client()
    client.force_login(viewer)
    assert SEND.encode() not in client.get("/admin/notifications/broadcast/").content
    assert client.get(SEND).status_code == 403
    assert client.post(SEND, data).status_code == 403
    assert not Broadcast.objects.exists()


@pytest.mark.django_db
def test_change_goes_back_to_the_form_with_what_was_written(staff_client):
    MemberFactory()
    data = {**confirmed(staff_client, body="Line one\nline two"), "stage": "edit"}
    page = staff_client.post(SEND, data)
    assert page.status_code == 200 and not page.context["form"].is_bound
    assert b"Line one\nline two</textarea>" in page.content
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"body": "   "}, "body", "required"),
        ({"body": "x" * 460}, "body", "at most 459 fit in 3 parts"),
        ({"body": "{name} " + "x" * 439}, "body", "{name} counted as 20"),
        ({"body": "[" * 230}, "body", "at most 459"),  # the extension table counts twice
        ({"body": "\u2019" * 202}, "body", "at most 201 fit in 3 parts because of"),
        ({"body": "\U0001f600" * 101}, "body", "outside the SMS alphabet"),
        ({"body": "x" * 10_001, "channels": ["email"], "subject": "s"}, "body", "at most"),
        ({"body": "Hello {nmae}"}, "body", "{nmae} is not a placeholder"),
        ({"body": "nul \x00 here"}, "body", "Null characters are not allowed"),
        ({"channels": ["email"], "subject": " "}, "subject", "Mail needs a subject"),
        ({"channels": ["email"], "subject": "{x}"}, "subject", "{x} is not a placeholder"),
        ({"channels": ["email"], "subject": "s" * 151}, "subject", "at most 150"),
        ({"channels": []}, "channels", "required"),
        ({"channels": ["fax"]}, "channels", "not one of the available choices"),
        ({"joined_from": "2026-02-30"}, "joined_from", "valid date"),
        ({"joined_to": "yesterday"}, "joined_to", "valid date"),
        ({"joined_from": "1899-12-31"}, "joined_from", "Pick a day from"),
        ({"joined_from": "2026-03-02", "joined_to": "2026-03-01"}, "joined_to", "before"),
        ({"upline": "12345"}, "upline", "not a Kenyan mobile number"),
        ({"upline": "0799 999 999"}, "upline", "No member has the phone 254799999999"),
        ({"min_withdrawable": "-1"}, "min_withdrawable", "greater than or equal to 0"),
        ({"min_withdrawable": "lots"}, "min_withdrawable", "Enter a number"),
        ({"min_withdrawable": "NaN"}, "min_withdrawable", "Enter a number"),
        ({"min_withdrawable": "1e30"}, "min_withdrawable", "digits"),
        ({"upline": UPLINE}, None, "No active member matches"),  # an upline with no referrals
        ({"joined_from": "2100-01-01"}, None, "No active member matches"),
        ({"channels": ["email"], "subject": "s"}, None, "None of the 2 members"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_bad_input_is_a_form_error_and_writes_nothing(staff_client, queued, changes, field, says):
    MemberFactory(phone=UPLINE)  # the staff member is the other active member
    for stage in ("preview", "send"):
        token = {"token": "6f0c1f8e-4b1e-4bb4-9a43-3b8a2f8e0c11"} if stage == "send" else {}
        page = staff_client.post(SEND, {**form(**changes), "stage": stage, **token})
        assert page.status_code == 200
        errors = page.context["form"].errors.get(field or "__all__", [])
        assert any(says in e for e in errors), page.context["form"].errors
        assert b"errornote" in page.content or b"errorlist" in page.content
    assert nothing_written(queued)


@pytest.mark.django_db(transaction=True)
def test_a_send_without_a_valid_token_is_refused(staff_client, queued):
    MemberFactory()
    for token in ("", "not-a-uuid"):
        page = staff_client.post(SEND, {**form(), "stage": "send", "token": token})
        errors = page.context["form"].errors
        assert page.status_code == 200 and errors, errors
    assert nothing_written(queued)


# --- the segment and the text, on the database alone ---------------------------------------


@pytest.mark.django_db
def test_a_member_who_joins_during_the_send_is_not_in_it(staff_client, caplog):
    upline = MemberFactory(phone=UPLINE)
    before = MemberFactory.create_batch(2, referred_by=upline)
    with caplog.at_level("INFO", logger="conveyor.notifications"):
        staff_client.post(SEND, confirmed(staff_client, upline=UPLINE))
    late = MemberFactory(referred_by=upline)

    broadcast = Broadcast.objects.get()
    # Who sent what to how many, in the log as well as on the row (sent_by, context).
    (audit,) = [m for r in caplog.records if "broadcast.message" in (m := r.getMessage())]
    assert audit.startswith(
        f"broadcast.message id={broadcast.pk} by={broadcast.sent_by.phone} channels=sms members=2"
    )
    assert "Hello {name}" in audit
    assert broadcast_advance(broadcast_id=broadcast.pk, budget_seconds=10) == (None, 2)
    texted = set(Notification.objects.values_list("member_id", flat=True))
    assert texted == {m.pk for m in before} and late.pk not in texted


@pytest.mark.parametrize(
    ("text", "length", "parts"),
    [
        ("x" * 160, 160, 1),
        ("x" * 161, 161, 2),
        ("x" * 459, 459, 3),
        ("€" * 10, 20, 1),  # the extension table: an escape and the character
        ("{name}", 20, 1),
        ("\u2019" * 70, 70, 1),
        ("\u2019" * 71, 71, 2),
        ("\U0001f600" * 35, 70, 1),  # two UTF-16 units each
    ],
)
def test_an_sms_is_measured_as_the_gateway_bills_it(text, length, parts):
    size = sms_size(text)
    assert (size.length, size.parts) == (length, parts)
