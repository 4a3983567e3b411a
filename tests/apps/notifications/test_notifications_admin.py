"""Notifications in Django admin and on the operations page: the changelist with each filter,
Resend (a new row for a failed one, refused for a delivered one), the Broadcast and
Preference pages, and the two panels the operations page shows."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.utils import timezone

from apps.notifications.kinds import KINDS
from apps.notifications.models import Broadcast, Channel, Notification, Preference, Status
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/notifications/notification/"
SMS_TASK = "tasks.notifications.deliver_sms"


def row(
    channel=Channel.SMS, status=Status.FAILED, kind="wifi_credentials", **extra
) -> Notification:
    member = extra.pop("member", None) or MemberFactory()
    address = {Channel.SMS: f"+{member.phone}", Channel.EMAIL: "w@example.com"}.get(channel, "")
    return Notification.objects.create(
        member=member,
        channel=channel,
        address=address,
        kind=kind,
        body="Op WiFi: your 1 hour is ready.",
        status=status,
        **extra,
    )


def snapshot(notification: Notification) -> dict:
    return Notification.objects.filter(pk=notification.pk).values().get()


def shown(response) -> list[int]:
    return [n.pk for n in response.context["cl"].result_list]


def resend(staff_client, capture, *notifications):
    with capture(execute=True):
        return staff_client.post(
            CHANGELIST,
            {"action": "resend", "_selected_action": [n.pk for n in notifications]},
            follow=True,
        )


def choices(staff_client) -> dict[str, dict[str, str]]:
    """Each filter of the changelist: {title: {choice: its query string}}."""
    response = staff_client.get(CHANGELIST)
    changelist = response.context["cl"]
    return {
        str(spec.title): {str(c["display"]): c["query_string"] for c in spec.choices(changelist)}
        for spec in changelist.filter_specs
    }


def said(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


# --- the changelist ------------------------------------------------------------------------


def test_the_changelist_shows_every_notice(staff_client):
    rows = [row(), row(Channel.EMAIL, Status.SENT), row(Channel.IN_APP, Status.DELIVERED)]

    response = staff_client.get(CHANGELIST)

    assert response.status_code == 200
    assert sorted(shown(response)) == sorted(r.pk for r in rows)


@pytest.fixture
def listed():
    """One notice of each sort, and one written 400 days ago."""
    rows = {
        "failed_sms": row(provider_id="ATXid_55"),
        "mail": row(Channel.EMAIL, Status.SENT, kind="commissions_credited"),
        "in_app": row(Channel.IN_APP, Status.DELIVERED, kind="commissions_credited"),
        "old_sms": row(),
    }
    Notification.objects.filter(pk=rows["old_sms"].pk).update(
        created_at=timezone.now() - timedelta(days=400)
    )
    return rows


@pytest.mark.parametrize(
    ("filter_title", "choice", "expected"),
    [
        ("channel", "SMS", {"failed_sms", "old_sms"}),
        ("channel", "In-app", {"in_app"}),
        ("status", "Failed", {"failed_sms", "old_sms"}),
        ("status", "Sent", {"mail"}),
        ("status", "Delivered", {"in_app"}),
        ("kind", "commissions_credited", {"mail", "in_app"}),
        ("kind", "wifi_credentials", {"failed_sms", "old_sms"}),
        ("kind", "task_failed", set()),
        ("created at", "Today", {"failed_sms", "mail", "in_app"}),
        ("created at", "Past 7 days", {"failed_sms", "mail", "in_app"}),
        ("created at", "This year", {"failed_sms", "mail", "in_app"}),
        ("created at", "Any date", {"failed_sms", "mail", "in_app", "old_sms"}),
    ],
)
def test_each_filter_choice_shows_its_notices(staff_client, listed, filter_title, choice, expected):
    query = choices(staff_client)[filter_title][choice]

    response = staff_client.get(CHANGELIST + query)

    assert response.status_code == 200
    assert set(shown(response)) == {listed[name].pk for name in expected}


def test_every_choice_of_every_filter_loads(staff_client, listed):
    offered = choices(staff_client)

    assert list(offered) == ["channel", "status", "kind", "created at"]
    assert set(offered["kind"]) == {"All", *KINDS}
    for title, links in offered.items():
        for label, query in links.items():
            response = staff_client.get(CHANGELIST + query)
            assert response.status_code == 200, (title, label)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "w@example.com"}, {"mail"}),
        ({"q": "ATXid_55"}, {"failed_sms"}),
        ({"channel__exact": "sms", "status__exact": "delivered"}, set()),
    ],
)
def test_search_and_combined_filters(staff_client, listed, query, expected):
    response = staff_client.get(CHANGELIST, query)

    assert response.status_code == 200
    assert set(shown(response)) == {listed[name].pk for name in expected}


def test_a_notice_opens_read_only(staff_client):
    notification = row(reason="InvalidPhoneNumber")

    response = staff_client.get(f"{CHANGELIST}{notification.pk}/change/")

    assert response.status_code == 200
    assert b"InvalidPhoneNumber" in response.content
    assert b'name="_save"' not in response.content
    assert staff_client.get(f"{CHANGELIST}add/").status_code == 403


# --- resend --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "status", "task"),
    [
        (Channel.SMS, Status.FAILED, "tasks.notifications.deliver_sms"),
        (Channel.SMS, Status.UNKNOWN, "tasks.notifications.deliver_sms"),
        (Channel.EMAIL, Status.FAILED, "tasks.emails.deliver_email"),
    ],
)
def test_resend_writes_a_new_row_and_queues_one_delivery(
    staff_client, django_capture_on_commit_callbacks, queued, channel, status, task
):
    old = row(channel, status, reason="DeliveryFailure", provider_id="ATXid_7", attempts=2)
    before = snapshot(old)

    response = resend(staff_client, django_capture_on_commit_callbacks, old)

    assert response.status_code == 200
    assert said(response) == [("success", "1 notice(s) written again and queued.")]
    assert snapshot(old) == before
    new = Notification.objects.exclude(pk=old.pk).get()
    assert new.resend_of_id == old.pk
    assert (new.channel, new.address, new.kind, new.body) == (
        old.channel,
        old.address,
        old.kind,
        old.body,
    )
    assert (new.status, new.provider_id, new.reason, new.attempts) == (Status.PENDING, "", "", 0)
    assert queued() == [
        ("notifications" if "sms" in task else "emails", task, {"notification_id": str(new.pk)})
    ]


@pytest.mark.parametrize(
    ("channel", "status"),
    [
        (Channel.SMS, Status.DELIVERED),
        (Channel.SMS, Status.SENT),
        (Channel.SMS, Status.PENDING),
        (Channel.IN_APP, Status.DELIVERED),
    ],
)
def test_resend_refuses_a_notice_that_was_not_lost_and_writes_nothing(
    staff_client, django_capture_on_commit_callbacks, queued, channel, status
):
    notification = row(channel, status)
    before = snapshot(notification)

    response = resend(staff_client, django_capture_on_commit_callbacks, notification)

    assert response.status_code == 200
    ((level, message),) = said(response)
    assert level == "error"
    assert message.startswith(f"#{notification.pk}: Only failed or unknown SMS and mail")
    assert f"this one is {status}" in message
    assert Notification.objects.count() == 1 and snapshot(notification) == before
    assert queued() == []


def test_resend_of_a_mixed_selection_resends_only_the_lost(
    staff_client, django_capture_on_commit_callbacks, queued
):
    failed, delivered = row(), row(status=Status.DELIVERED)

    response = resend(staff_client, django_capture_on_commit_callbacks, failed, delivered)

    levels = sorted(level for level, _ in said(response))
    assert levels == ["error", "success"]
    (new,) = Notification.objects.filter(resend_of__isnull=False)
    assert new.resend_of_id == failed.pk
    assert queued() == [
        ("notifications", "tasks.notifications.deliver_sms", {"notification_id": str(new.pk)})
    ]


def staff_with(client, *codenames):
    """A client logged in as staff with only these notifications permissions."""
    member = MemberFactory(is_staff=True)
    member.user_permissions.set(
        Permission.objects.filter(content_type__app_label="notifications", codename__in=codenames)
    )
    client.force_login(member)
    return client


def test_staff_who_may_only_view_notices_cannot_resend(
    client, django_capture_on_commit_callbacks, queued
):
    viewer = staff_with(client, "view_notification")
    failed = row()
    before = snapshot(failed)

    listing = viewer.get(CHANGELIST)
    assert listing.status_code == 200 and shown(listing) == [failed.pk]
    assert listing.context["action_form"] is None  # no action offered

    resend(viewer, django_capture_on_commit_callbacks, failed)

    assert Notification.objects.count() == 1 and snapshot(failed) == before
    assert queued() == []


def test_staff_with_the_change_permission_may_resend(
    client, django_capture_on_commit_callbacks, queued
):
    sender = staff_with(client, "view_notification", "change_notification")
    failed = row()

    response = resend(sender, django_capture_on_commit_callbacks, failed)

    assert said(response) == [("success", "1 notice(s) written again and queued.")]
    (new,) = Notification.objects.filter(resend_of=failed)
    assert queued() == [
        ("notifications", "tasks.notifications.deliver_sms", {"notification_id": str(new.pk)})
    ]


# --- broadcasts and preferences ------------------------------------------------------------


def test_the_broadcast_pages_load(staff_client):
    broadcast = Broadcast.objects.create(
        kind="commission_rate_changed", title="Level 1 now 12%", total=8, done=2
    )

    listing = staff_client.get("/admin/notifications/broadcast/")
    filtered = staff_client.get("/admin/notifications/broadcast/", {"state__exact": "running"})
    page = staff_client.get(f"/admin/notifications/broadcast/{broadcast.pk}/change/")

    assert listing.status_code == filtered.status_code == page.status_code == 200
    assert shown(filtered) == [broadcast.pk]
    assert b"Level 1 now 12%" in listing.content and b"25.0" in listing.content
    assert staff_client.get("/admin/notifications/broadcast/add/").status_code == 403


def test_the_preference_pages_load(staff_client):
    member = MemberFactory()
    preference = Preference.objects.create(member=member, sms=True)

    listing = staff_client.get("/admin/notifications/preference/", {"q": member.phone})
    page = staff_client.get(f"/admin/notifications/preference/{preference.pk}/change/")
    add = staff_client.get("/admin/notifications/preference/add/")

    assert listing.status_code == page.status_code == add.status_code == 200
    assert shown(listing) == [preference.pk]


def test_admin_pages_need_staff(client):
    row()
    for path in (CHANGELIST, "/admin/notifications/broadcast/", "/admin/notifications/preference/"):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]


# --- the operations page -------------------------------------------------------------------


def panel(staff_client, name: str) -> dict:
    response = staff_client.get("/admin/ops/data/")
    assert response.status_code == 200
    panels = {p["name"]: p for p in response.json()["panels"]}
    assert "error" not in panels[name], panels[name].get("error")
    return panels[name]


def test_the_notifications_panel_counts_the_last_hour_per_channel(staff_client):
    member = MemberFactory()
    for status, n in [
        (Status.SENT, 2),
        (Status.DELIVERED, 1),
        (Status.FAILED, 3),
        (Status.UNKNOWN, 1),
        (Status.PENDING, 2),
        (Status.SENDING, 1),
    ]:
        for _ in range(n):
            row(Channel.SMS, status, member=member)
    row(Channel.EMAIL, Status.FAILED, member=member)
    row(Channel.EMAIL, Status.SENT, member=member)
    for _ in range(4):
        row(Channel.IN_APP, Status.DELIVERED, member=member)
    old = [row(Channel.SMS, Status.FAILED, member=member), row(Channel.EMAIL, Status.PENDING)]
    Notification.objects.filter(pk__in=[o.pk for o in old]).update(
        created_at=timezone.now() - timedelta(hours=1, minutes=1)
    )

    notifications = panel(staff_client, "notifications")

    assert notifications["title"] == "Notifications, last hour"
    assert notifications["columns"] == ["channel", "sent", "failed", "unknown", "pending"]
    assert notifications["rows"] == [
        ["SMS", 3, 3, 1, 3],
        ["Email", 1, 1, 0, 0],
        ["In-app", 4, 0, 0, 0],
    ]


def test_the_notifications_panel_is_all_zero_when_nothing_was_sent(staff_client):
    assert panel(staff_client, "notifications")["rows"] == [
        ["SMS", 0, 0, 0, 0],
        ["Email", 0, 0, 0, 0],
        ["In-app", 0, 0, 0, 0],
    ]


def test_the_broadcasts_panel_shows_progress_newest_first(staff_client):
    done = Broadcast.objects.create(
        kind="commission_rate_changed",
        title="Level 2 now 5%",
        state=Broadcast.State.FINISHED,
        total=4,
        done=4,
        finished_at=timezone.now(),
    )
    running = Broadcast.objects.create(
        kind="commission_rate_changed", title="Level 1 now 12%", total=3, done=1
    )
    empty = Broadcast.objects.create(kind="commission_rate_changed", title="Nobody", total=0)
    assert done.pk < running.pk < empty.pk

    broadcasts = panel(staff_client, "broadcasts")

    assert broadcasts["title"] == "Broadcasts"
    assert broadcasts["columns"] == ["broadcast", "state", "done", "of", "%"]
    assert broadcasts["progress_column"] == 4
    assert broadcasts["rows"] == [
        ["Nobody", "running", 0, 0, 100.0],
        ["Level 1 now 12%", "running", 1, 3, 33.3],
        ["Level 2 now 5%", "finished", 4, 4, 100.0],
    ]


def test_the_broadcasts_panel_shows_the_five_newest(staff_client):
    for n in range(7):
        Broadcast.objects.create(kind="commission_rate_changed", title=f"b{n}", total=1)

    rows = panel(staff_client, "broadcasts")["rows"]

    assert [r[0] for r in rows] == ["b6", "b5", "b4", "b3", "b2"]
