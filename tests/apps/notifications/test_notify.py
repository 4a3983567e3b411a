"""notify() on the database alone: the channels follow the kind and the member's choice, a key
makes a rerun write nothing, a template that lacks a variable fails in the caller and writes
nothing, delivery is queued only once the caller's transaction commits, and bodies are
encrypted at rest."""

import pytest
from django.db import connection, transaction

from apps.common.crypto import decrypt
from apps.common.errors import ApplicationError
from apps.notifications.kinds import TemplateMissing
from apps.notifications.models import Channel, Notification, Preference, Status
from apps.notifications.services import notify
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db

DIGEST = {"name": "Wanjiru", "total": "120.50", "rows": 3}
CREDENTIALS = {
    "operator": "Op",
    "package": "1 hour",
    "username": "hs-4411",
    "password": "kiwi-7731",
    "valid_until": "18:00",
    "reference": "HSKX7P2Q",
}


def member_choosing(*, sms: bool = False, email: bool = False, address: str = ""):
    member = MemberFactory(email=address, name="Wanjiru")
    Preference.objects.create(member=member, sms=sms, email=email)
    return member


def channels(rows) -> list[str]:
    return sorted(r.channel for r in rows)


# --- channels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        (None, [Channel.IN_APP]),  # no preference row: in-app only
        ({}, [Channel.IN_APP]),
        ({"sms": True}, [Channel.IN_APP, Channel.SMS]),
        ({"email": True, "address": "w@example.com"}, [Channel.EMAIL, Channel.IN_APP]),
        (
            {"sms": True, "email": True, "address": "w@example.com"},
            [Channel.EMAIL, Channel.IN_APP, Channel.SMS],
        ),
        ({"email": True}, [Channel.IN_APP]),  # chose mail, has no address: skipped
        ({"sms": True, "email": True}, [Channel.IN_APP, Channel.SMS]),
    ],
)
def test_a_chosen_kind_goes_in_app_and_by_what_the_member_chose(choice, expected):
    member = MemberFactory(name="Wanjiru") if choice is None else member_choosing(**choice)

    rows = notify(member=member, kind="commissions_credited", context=DIGEST)

    assert channels(rows) == expected
    assert channels(Notification.objects.filter(member=member)) == expected


def test_each_row_is_addressed_and_rendered_for_its_channel():
    member = member_choosing(sms=True, email=True, address="w@example.com")

    rows = {r.channel: r for r in notify(member=member, kind="earnings_matured", context=DIGEST)}

    in_app, sms, mail = rows[Channel.IN_APP], rows[Channel.SMS], rows[Channel.EMAIL]
    assert (in_app.address, in_app.status) == ("", Status.DELIVERED)
    assert in_app.delivered_at is not None
    assert in_app.body == "KES 120.50 of your earnings (3 items) matured and is now withdrawable."
    assert (sms.address, sms.status) == (f"+{member.phone}", Status.PENDING)
    assert (mail.address, mail.status) == ("w@example.com", Status.PENDING)
    assert mail.subject == "Earnings matured: KES 120.50"
    assert mail.body.startswith("Hello Wanjiru,")
    assert "<strong>KES 120.50</strong>" in mail.html


@pytest.mark.parametrize("choice", [{}, {"sms": False, "email": True, "address": "w@example.com"}])
def test_a_transactional_kind_goes_by_sms_whatever_the_member_chose(choice):
    member = member_choosing(**choice)

    (row,) = notify(member=member, kind="wifi_credentials", context=CREDENTIALS)

    assert (row.channel, row.address, row.status) == (Channel.SMS, f"+{member.phone}", "pending")
    assert "Username: hs-4411 Password: kiwi-7731" in row.body


def test_channels_given_by_the_caller_override_the_choice_but_not_the_kind():
    member = member_choosing()

    (row,) = notify(
        member=member, kind="commissions_credited", context=DIGEST, channels=[Channel.SMS]
    )
    assert row.channel == Channel.SMS

    with pytest.raises(ApplicationError, match="wifi_credentials notices cannot go by email"):
        notify(
            member=member, kind="wifi_credentials", context=CREDENTIALS, channels=[Channel.EMAIL]
        )
    assert Notification.objects.filter(kind="wifi_credentials").count() == 0


def test_an_unknown_kind_is_a_clear_error_and_writes_nothing():
    with pytest.raises(TemplateMissing, match=r"no notification kind 'wifi_creds'; kinds: .*wifi"):
        notify(member=member_choosing(sms=True), kind="wifi_creds", context=CREDENTIALS)
    assert not Notification.objects.exists()


# --- keys ----------------------------------------------------------------------------------


def test_a_key_makes_a_second_call_write_nothing():
    member = member_choosing(sms=True)
    first = notify(member=member, kind="commissions_credited", context=DIGEST, key="digest:7")

    again = notify(member=member, kind="commissions_credited", context=DIGEST, key="digest:7")

    assert channels(first) == [Channel.IN_APP, Channel.SMS]
    assert again == []
    assert Notification.objects.count() == 2
    other = notify(member=member, kind="commissions_credited", context=DIGEST, key="digest:8")
    assert len(other) == 2 and Notification.objects.count() == 4


def test_a_key_writes_only_the_channels_not_written_before():
    member = member_choosing()
    (in_app,) = notify(member=member, kind="commissions_credited", context=DIGEST, key="d:1")
    Preference.objects.filter(member=member).update(sms=True)

    (sms,) = notify(member=member, kind="commissions_credited", context=DIGEST, key="d:1")

    assert (in_app.channel, sms.channel) == (Channel.IN_APP, Channel.SMS)
    assert Notification.objects.count() == 2


def test_without_a_key_every_call_writes():
    member = member_choosing()
    notify(member=member, kind="commissions_credited", context=DIGEST)
    notify(member=member, kind="commissions_credited", context=DIGEST)

    assert Notification.objects.count() == 2


# --- templates that lack a variable --------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "context", "missing"),
    [
        ("commissions_credited", {"name": "W", "rows": 3}, "total"),
        ("wifi_credentials", {k: v for k, v in CREDENTIALS.items() if k != "password"}, "password"),
        ("provisioning_delayed", {"operator": "Op", "package": "1 hour"}, "reference"),
    ],
)
def test_a_template_that_lacks_a_variable_fails_in_the_caller_and_writes_nothing(
    kind, context, missing, queued, django_capture_on_commit_callbacks
):
    member = member_choosing(sms=True)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(TemplateMissing, match=rf"\{{\{{ {missing} \}}\}}"),
    ):
        notify(member=member, kind=kind, context=context)

    assert not Notification.objects.exists()
    assert callbacks == [] and queued() == []


def test_a_later_channels_template_that_fails_writes_nothing_either():
    member = member_choosing(email=True, address="w@example.com")

    # The in-app text has no {{ name }}; the mail has.
    with pytest.raises(TemplateMissing, match=r"email\.\w+: .*\{\{ name \}\}"):
        notify(member=member, kind="commissions_credited", context={"total": "1.00", "rows": 1})

    assert not Notification.objects.exists()


def test_a_failure_in_the_callers_transaction_undoes_the_notice_and_queues_nothing(
    queued, django_capture_on_commit_callbacks
):
    member = member_choosing(sms=True)

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(TemplateMissing),
        transaction.atomic(),
    ):
        notify(member=member, kind="commissions_credited", context=DIGEST)
        notify(member=member, kind="wifi_credentials", context={})  # lacks everything

    assert not Notification.objects.exists()
    assert callbacks == [] and queued() == []


# --- queueing ------------------------------------------------------------------------------


def test_delivery_is_queued_only_after_commit(queued, django_capture_on_commit_callbacks):
    member = member_choosing(sms=True, email=True, address="w@example.com")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rows = {
            r.channel: r for r in notify(member=member, kind="earnings_matured", context=DIGEST)
        }
        assert queued() == []  # the transaction is still open
    assert queued() == [] and len(callbacks) == 2

    for callback in callbacks:  # the commit
        callback()

    assert sorted(queued()) == [
        ("emails", "tasks.emails.deliver_email", {"notification_id": str(rows["email"].pk)}),
        (
            "notifications",
            "tasks.notifications.deliver_sms",
            {"notification_id": str(rows["sms"].pk)},
        ),
    ]


def test_an_in_app_notice_queues_nothing(queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        (row,) = notify(member=member_choosing(), kind="commissions_credited", context=DIGEST)

    assert row.channel == Channel.IN_APP
    assert callbacks == [] and queued() == []


def test_a_keyed_rerun_queues_nothing_again(queued, django_capture_on_commit_callbacks):
    member = member_choosing(sms=True)
    with django_capture_on_commit_callbacks(execute=True):
        notify(member=member, kind="wifi_credentials", context=CREDENTIALS, key="wifi:1")
    assert len(queued()) == 1

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify(member=member, kind="wifi_credentials", context=CREDENTIALS, key="wifi:1")

    assert callbacks == [] and len(queued()) == 1


# --- at rest -------------------------------------------------------------------------------


def test_bodies_are_encrypted_at_rest():
    member = member_choosing(email=True, address="w@example.com")
    notify(member=member, kind="wifi_credentials", context=CREDENTIALS)
    notify(member=member, kind="commissions_credited", context=DIGEST)
    table = connection.ops.quote_name(Notification._meta.db_table)

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, body, html FROM {table}")  # noqa: S608 (our own table name)
        stored = cursor.fetchall()

    assert len(stored) == 3
    for pk, body, html in stored:
        row = Notification.objects.get(pk=pk)
        assert row.body and row.body not in body and decrypt(body) == row.body
        assert "kiwi-7731" not in body and "120.50" not in body
        assert decrypt(html) == row.html
        if row.html:
            assert "Wanjiru" not in html
