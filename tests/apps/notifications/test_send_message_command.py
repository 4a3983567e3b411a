"""`manage.py send_message`: the admin's Send a message from the command line. A preview
sends nothing; bad input is a clear error that writes and queues nothing; --yes sends through
a real notifications worker to the Africa's Talking simulator, one SMS per member of the
segment; the same --key again sends nothing more."""

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.notifications.models import Broadcast, Channel, Notification, Status
from tests.apps.notifications.conftest import at_env
from tests.apps.notifications.test_segments import UPLINE, nothing_written
from tests.support.factories import MemberFactory
from tests.support.workers import ProbeWorker

SENDER = "254700900900"
BODY = "Hello {name}, the draw is on Friday."


@pytest.fixture
def members(db):
    MemberFactory(phone=SENDER, is_staff=True, is_superuser=True, name="Staff")
    upline = MemberFactory(phone=UPLINE, name="Upline")
    inside = [MemberFactory(name=f"Kid {n}", referred_by=upline) for n in range(4)]
    MemberFactory(name="Elsewhere")
    return inside


def run(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("send_message", *args, stdout=out)
    return out.getvalue()


def test_a_preview_says_whom_it_reaches_and_sends_nothing(members, queued):
    out = run("--sms", "--body", BODY, "--upline", "0711 000 001")

    assert "SMS to 4 members: active members, referred by 254711000001." in out
    assert "1 part(s) each" in out and "Nothing sent: add --yes to send it." in out
    assert nothing_written(queued)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--body", BODY], "Choose --sms, --email or both."),
        (["--sms", "--body", BODY, "--upline", "12345"], "--upline:"),
        (["--sms", "--body", BODY, "--upline", "0799999999"], "No member has the phone"),
        (["--sms", "--body", "x" * 2000], "--body:"),
        (["--email", "--body", BODY], "--subject:"),
        (["--sms", "--body", BODY, "--joined-from", "2026-13-01"], "--joined-from:"),
        (["--sms", "--body", BODY, "--joined-from", "2099-01-01"], "the segment: No active"),
        (["--sms"], "Give the text as --body or --body-file"),
        (["--sms", "--body-file", "/nonexistent/message.txt"], "Cannot read"),
        (["--sms", "--body", BODY, "--yes"], "--as PHONE"),
        (["--sms", "--body", BODY, "--yes", "--as", "0712"], "--as:"),
        (["--sms", "--body", BODY, "--yes", "--as", UPLINE], "No active staff member"),
        (["--status", "999"], "There is no broadcast 999."),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_is_written(members, queued, args, says):
    with pytest.raises(CommandError) as error:
        run(*args)
    assert says in str(error.value)
    assert nothing_written(queued)


def test_staff_without_the_permission_may_not_send(members, queued):
    clerk = MemberFactory(phone="254700900901", is_staff=True)
    with pytest.raises(CommandError, match="may not send messages"):
        run("--sms", "--body", BODY, "--yes", "--as", clerk.phone)
    clerk.user_permissions.add(Permission.objects.get(codename="add_broadcast"))
    run("--sms", "--body", BODY, "--yes", "--as", clerk.phone)
    assert Broadcast.objects.get().sent_by == clerk


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_yes_sends_one_sms_to_each_member_and_the_same_key_sends_once(
    tmp_path, members, sms_sim, empty_queues
):
    sms_sim.reset()
    key = str(uuid.uuid4())
    send = ("--sms", "--body", BODY, "--upline", UPLINE, "--as", SENDER, "--key", key, "--yes")
    worker = ProbeWorker(
        tmp_path, queue_names=["notifications"], concurrency=2, env=at_env(sms_sim)
    ).start()
    try:
        out = run(*send, "--wait", "--timeout", "60")
        received = sms_sim.wait_for_messages(4)
        again = run(*send)
    finally:
        worker.stop()

    broadcast = Broadcast.objects.get()
    assert f"Broadcast {broadcast.pk}: sending, to 4 members." in out
    assert "finished: written 4 of 4, batch 5 of 5 jobs done, 0 failed" in out
    assert f"Broadcast {broadcast.pk}: sent already with this key" in again
    assert sorted(m["to"] for m in received) == sorted(f"+{m.phone}" for m in members)
    assert {m["message"] for m in received} == {
        f"Hello {m.name}, the draw is on Friday." for m in members
    }
    assert len(sms_sim.messages()) == 4
    sms = Notification.objects.filter(kind="staff_message", channel=Channel.SMS)
    assert sms.filter(status=Status.SENT).count() == sms.count() == 4
    assert broadcast.sent_by.phone == SENDER
    status = run("--status", str(broadcast.pk))
    assert "to: active members, referred by 254711000001, member ids up to" in status
