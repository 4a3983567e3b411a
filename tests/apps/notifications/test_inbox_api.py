"""Members' in-app notices over the API (bearer token): the inbox in pages, newest first, with
the unread count; marking one read; the channels a member chose; and every refusal."""

import json

import pytest

from apps.accounts.tokens import token_issue
from apps.notifications.models import Channel, Notification, Preference, Status
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db

INBOX = "/api/notifications/"
PREFERENCES = "/api/notifications/preferences/"


def auth(member) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token_issue(member)}"}


def read_url(notice: Notification) -> str:
    return f"/api/notifications/{notice.pk}/read/"


@pytest.fixture
def member(db):
    return MemberFactory()


def notice(member, text: str = "KES 10 is now withdrawable.", channel=Channel.IN_APP, **extra):
    return Notification.objects.create(
        member=member,
        channel=channel,
        address="" if channel == Channel.IN_APP else f"+{member.phone}",
        kind="commissions_credited",
        body=text,
        status=Status.DELIVERED if channel == Channel.IN_APP else Status.SENT,
        **extra,
    )


def put(client, member, body, **extra):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.put(
        PREFERENCES, data=data, content_type="application/json", **extra, **auth(member)
    )


# --- who may ask ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_AUTHORIZATION": "Bearer not-a-token"},
        {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("get", INBOX), ("post", "/api/notifications/1/read/"), ("get", PREFERENCES)],
)
def test_every_endpoint_needs_the_members_token(client, member, headers, method, path):
    notice(member)

    response = getattr(client, method)(path, **headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_put_without_a_token_changes_nothing(client, member):
    response = client.put(PREFERENCES, data='{"sms": true}', content_type="application/json")

    assert response.status_code == 401
    assert not Preference.objects.exists()


# --- the inbox -----------------------------------------------------------------------------


def test_the_inbox_is_the_members_in_app_notices_newest_first(client, member):
    first, second, third = (notice(member, f"notice {n}") for n in range(3))
    notice(member, "an SMS", channel=Channel.SMS)
    notice(member, "a mail", channel=Channel.EMAIL)
    notice(MemberFactory(), "someone else's")

    body = client.get(INBOX, **auth(member)).json()

    assert [n["id"] for n in body["notifications"]] == [third.pk, second.pk, first.pk]
    assert [n["text"] for n in body["notifications"]] == ["notice 2", "notice 1", "notice 0"]
    assert body["notifications"][0] == {
        "id": third.pk,
        "kind": "commissions_credited",
        "text": "notice 2",
        "created_at": third.created_at.isoformat(),
        "read_at": None,
    }
    assert (body["unread"], body["page"], body["pages"], body["count"]) == (3, 1, 1, 3)


def test_a_member_with_no_notices_has_an_empty_first_page(client, member):
    notice(MemberFactory())

    body = client.get(INBOX, **auth(member)).json()

    assert body == {"notifications": [], "unread": 0, "page": 1, "pages": 1, "count": 0}


def test_the_inbox_comes_in_pages_of_20(client, member):
    ids = [notice(member, f"n{n}").pk for n in range(25)]
    newest_first = ids[::-1]

    page_1 = client.get(INBOX, **auth(member)).json()
    page_2 = client.get(INBOX, {"page": "2"}, **auth(member)).json()

    assert [n["id"] for n in page_1["notifications"]] == newest_first[:20]
    assert [n["id"] for n in page_2["notifications"]] == newest_first[20:]
    assert (page_2["page"], page_2["pages"], page_2["count"], page_2["unread"]) == (2, 2, 25, 25)
    # Page 1 asked for by name is the same page.
    assert client.get(INBOX, {"page": "1"}, **auth(member)).json() == page_1


def test_a_page_past_the_last_is_404(client, member):
    for n in range(21):
        notice(member, f"n{n}")

    response = client.get(INBOX, {"page": "3"}, **auth(member))

    assert response.status_code == 404
    assert response.json()["error"] == {"code": "no_such_page", "message": "There are 2 pages."}


@pytest.mark.parametrize(
    "page",
    ["0", "-1", "abc", "", "1.5", " 1", "1e3", "²", "٣", "9" * 5000, "99999999999"],
)
def test_a_page_that_is_not_a_positive_whole_number_is_400(client, member, page):
    notice(member)

    response = client.get(INBOX, {"page": page}, **auth(member))

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "page"


def test_a_large_page_number_is_404_not_an_error(client, member):
    notice(member)

    response = client.get(INBOX, {"page": "999999999"}, **auth(member))

    assert response.status_code == 404


def test_only_get_reads_the_inbox(client, member):
    assert client.post(INBOX, **auth(member)).status_code == 405


# --- marking read --------------------------------------------------------------------------


def test_marking_read_once_keeps_the_first_time_and_drops_the_unread_count(client, member):
    old, new = notice(member, "old"), notice(member, "new")

    first = client.post(read_url(old), **auth(member))
    assert first.status_code == 200
    read_at = first.json()["read_at"]
    assert read_at is not None and first.json()["id"] == old.pk

    again = client.post(read_url(old), **auth(member))
    assert again.status_code == 200 and again.json()["read_at"] == read_at
    old.refresh_from_db()
    assert old.read_at.isoformat() == read_at

    body = client.get(INBOX, **auth(member)).json()
    assert body["unread"] == 1
    assert {n["id"]: n["read_at"] for n in body["notifications"]} == {
        new.pk: None,
        old.pk: read_at,
    }


def test_another_members_notice_is_404_and_stays_unread(client, member):
    theirs = notice(MemberFactory())

    response = client.post(read_url(theirs), **auth(member))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL])
def test_an_sms_or_mail_of_ones_own_is_not_an_inbox_notice(client, member, channel):
    row = notice(member, channel=channel)

    response = client.post(read_url(row), **auth(member))

    assert response.status_code == 404
    row.refresh_from_db()
    assert row.read_at is None


@pytest.mark.parametrize("notification_id", [0, 10**6, 10**30])
def test_a_notice_that_does_not_exist_is_404(client, member, notification_id):
    response = client.post(f"/api/notifications/{notification_id}/read/", **auth(member))

    assert response.status_code == 404


def test_marking_read_needs_a_post(client, member):
    row = notice(member)

    assert client.get(read_url(row), **auth(member)).status_code == 405
    row.refresh_from_db()
    assert row.read_at is None


# --- preferences ---------------------------------------------------------------------------


def test_by_default_a_member_gets_in_app_notices_only(client, member):
    response = client.get(PREFERENCES, **auth(member))

    assert response.status_code == 200
    assert response.json() == {"in_app": True, "sms": False, "email": False}
    assert not Preference.objects.exists()  # reading writes nothing


def test_choosing_sms_is_kept(client, member):
    response = put(client, member, {"sms": True})

    assert response.status_code == 200
    assert response.json() == {"in_app": True, "sms": True, "email": False}
    assert client.get(PREFERENCES, **auth(member)).json() == response.json()
    preference = Preference.objects.get(member=member)
    assert (preference.sms, preference.email) == (True, False)


def test_a_field_left_out_keeps_its_choice(client):
    member = MemberFactory(email="wanjiru@example.com")
    assert put(client, member, {"email": True}).status_code == 200

    response = put(client, member, {"sms": True})

    assert response.json() == {"in_app": True, "sms": True, "email": True}
    assert put(client, member, {"email": False}).json() == {
        "in_app": True,
        "sms": True,
        "email": False,
    }


def test_what_get_answered_can_be_put_back(client, member):
    choice = {**client.get(PREFERENCES, **auth(member)).json(), "sms": True}

    response = put(client, member, choice)

    assert response.status_code == 200
    assert response.json() == {"in_app": True, "sms": True, "email": False}


def test_email_needs_an_address_first(client, member):
    assert member.email == ""

    response = put(client, member, {"email": True})

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "no_email",
        "message": "Add an email address first.",
        "field": "email",
    }
    assert not Preference.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"\xff\xfe",
        "[]",
        '"sms"',
        "null",
        {"sms": "yes"},
        {"sms": 1},
        {"sms": None},
        {"email": "true"},
        {"push": True},
        {"sms": True, "whatsapp": True},
        {"in_app": False},
    ],
)
def test_a_body_that_is_not_a_choice_is_400_and_writes_nothing(client, member, body):
    response = put(client, member, body)

    assert response.status_code == 400
    assert response.json()["error"]["message"]
    assert not Preference.objects.exists()


def test_a_huge_preferences_body_is_413(client, member):
    response = put(client, member, {"sms": True, "pad": "x" * 2000})

    assert response.status_code == 413
    assert not Preference.objects.exists()


def test_preferences_take_only_get_and_put(client, member):
    response = client.post(PREFERENCES, data="{}", content_type="application/json", **auth(member))

    assert response.status_code == 405
