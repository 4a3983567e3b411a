"""Africa's Talking's delivery reports at /hooks/sms/<token>/, posted form-encoded as the
gateway posts them (EXTERNAL-FORMATS.md §6.2): each status moves an SMS row to the right
state once, replays and late reports change nothing, and a wrong address or a body that is
not a report gets a plain-text 4xx and changes nothing."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.notifications.models import Channel, Notification, Status
from apps.notifications.services.reports import sms_delivery_report
from devstack.processes import wait_for
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
PHONE = "+254711000111"


def url(token: str | None = None) -> str:
    return f"/hooks/sms/{settings.SMS_DELIVERY_TOKEN if token is None else token}/"


def report(client, *, token: str | None = None, body=None, content_type=FORM, **fields):
    """POST one report; ``fields`` are form-encoded unless ``body`` gives the raw bytes."""
    data = urlencode(fields) if body is None else body
    return client.post(url(token), data=data, content_type=content_type)


def sms(status: str = Status.SENT, provider_id: str = "ATXid_1", address: str = PHONE, **extra):
    """An SMS row as a delivery run leaves it."""
    member = MemberFactory(phone=address.lstrip("+"))
    claimed_at = extra.pop("claimed_at", timezone.now() - timedelta(minutes=5))
    return Notification.objects.create(
        member=member,
        channel=Channel.SMS,
        address=address,
        kind="wifi_credentials",
        body="Op WiFi: your 1 hour is ready.",
        status=status,
        provider_id=provider_id,
        claimed_at=claimed_at,
        sent_at=claimed_at if status == Status.SENT else None,
        attempts=1,
        **extra,
    )


def rows() -> list[dict]:
    return list(Notification.objects.order_by("pk").values())


def state(row: Notification) -> tuple:
    row.refresh_from_db()
    return row.status, row.reason, row.provider_id


@pytest.mark.parametrize(
    ("status", "reason", "expected", "answer"),
    [
        ("Success", "", (Status.DELIVERED, ""), "delivered"),
        ("Rejected", "UserInBlackList", (Status.FAILED, "UserInBlackList"), "failed"),
        ("Failed", "DeliveryFailure", (Status.FAILED, "DeliveryFailure"), "failed"),
        ("Failed", "", (Status.FAILED, "Failed"), "failed"),  # no reason given: the status
    ],
)
def test_a_final_report_settles_a_sent_row(client, status, reason, expected, answer):
    row = sms()
    fields = {"id": "ATXid_1", "status": status, "phoneNumber": PHONE, "networkCode": "63902"}
    if reason:
        fields["failureReason"] = reason

    response = report(client, **fields)

    assert response.status_code == 200
    assert response.content.decode() == answer
    assert state(row) == (*expected, "ATXid_1")
    assert (row.delivered_at is not None) == (expected[0] == Status.DELIVERED)


@pytest.mark.parametrize("status", ["Sent", "Submitted", "Buffered"])
def test_an_intermediate_report_leaves_a_sent_row_alone(client, status):
    sms()
    before = rows()

    response = report(client, id="ATXid_1", status=status, phoneNumber=PHONE)

    assert response.status_code == 200 and response.content == b"ignored"
    assert rows() == before


@pytest.mark.parametrize("status", ["Sent", "Submitted", "Buffered"])
@pytest.mark.parametrize("before", [Status.UNKNOWN, Status.SENDING])
def test_an_intermediate_report_tells_an_unknown_or_sending_row_it_was_sent(client, status, before):
    row = sms(status=before)

    response = report(client, id="ATXid_1", status=status, phoneNumber=PHONE)

    assert response.status_code == 200 and response.content == b"sent"
    assert state(row) == (Status.SENT, "", "ATXid_1")
    assert row.sent_at == row.claimed_at  # it left when the run claimed it


def test_a_final_report_settles_an_unknown_row(client):
    row = sms(status=Status.UNKNOWN)

    assert report(client, id="ATXid_1", status="Success", phoneNumber=PHONE).status_code == 200

    assert state(row) == (Status.DELIVERED, "", "ATXid_1")


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ({"status": "Success"}, {"status": "Success"}),  # a replay
        ({"status": "Failed", "failureReason": "DeliveryFailure"}, {"status": "Failed"}),
        ({"status": "Success"}, {"status": "Failed", "failureReason": "DeliveryFailure"}),
        ({"status": "Rejected", "failureReason": "UserIsInactive"}, {"status": "Success"}),
        ({"status": "Success"}, {"status": "Sent"}),  # late news of the way there
        ({"status": "Failed", "failureReason": "DeliveryFailure"}, {"status": "Buffered"}),
    ],
)
def test_a_report_after_a_final_one_changes_nothing(client, first, then):
    sms()
    assert report(client, id="ATXid_1", phoneNumber=PHONE, **first).status_code == 200
    settled = rows()

    response = report(client, id="ATXid_1", phoneNumber=PHONE, **then)

    assert response.status_code == 200 and response.content == b"ignored"
    assert rows() == settled


def test_a_report_for_an_id_we_never_sent_is_a_no_op(client):
    sms()
    sms(status=Status.UNKNOWN, provider_id="ATXid_2", address="+254711000222")
    before = rows()

    response = report(client, id="ATXid_someone_elses", status="Success", phoneNumber=PHONE)

    assert response.status_code == 200 and response.content == b"unknown_id"
    assert rows() == before


def test_an_unknown_row_without_an_id_is_adopted_by_a_report_to_its_number(client):
    orphan = sms(status=Status.UNKNOWN, provider_id="")
    other = sms(status=Status.UNKNOWN, provider_id="", address="+254711000222")

    response = report(client, id="ATXid_9", status="Success", phoneNumber=PHONE)

    assert response.status_code == 200 and response.content == b"delivered"
    assert state(orphan) == (Status.DELIVERED, "", "ATXid_9")
    assert state(other) == (Status.UNKNOWN, "", "")
    # The adopted row is now found by its id: a replay changes nothing.
    settled = rows()
    assert report(client, id="ATXid_9", status="Failed", phoneNumber=PHONE).content == b"ignored"
    assert rows() == settled


@pytest.mark.parametrize(
    "others",
    [
        # Two rows to that number could each be the one: neither is adopted.
        [{"status": Status.UNKNOWN, "provider_id": ""}],
        [{"status": Status.SENDING, "provider_id": ""}],
    ],
)
def test_two_rows_without_an_id_to_the_number_are_not_adopted(client, others):
    sms(status=Status.UNKNOWN, provider_id="")
    for fields in others:
        Notification.objects.create(
            member=Notification.objects.first().member,
            channel=Channel.SMS,
            address=PHONE,
            kind="wifi_credentials",
            body="again",
            claimed_at=timezone.now(),
            **fields,
        )
    before = rows()

    response = report(client, id="ATXid_9", status="Success", phoneNumber=PHONE)

    assert response.status_code == 200 and response.content == b"unknown_id"
    assert rows() == before


@pytest.mark.parametrize(
    "orphan",
    [
        {"status": Status.UNKNOWN, "provider_id": "", "address": "+254711000999"},  # other number
        {"status": Status.FAILED, "provider_id": ""},  # settled: not waiting for news
        {
            "status": Status.UNKNOWN,
            "provider_id": "",
            "claimed_at": timezone.now() - timedelta(days=2),
        },
    ],
)
def test_a_row_that_cannot_be_the_reported_one_is_not_adopted(client, orphan):
    sms(**orphan)
    before = rows()

    response = report(client, id="ATXid_9", status="Success", phoneNumber=PHONE)

    assert response.status_code == 200 and response.content == b"unknown_id"
    assert rows() == before


# --- who may report ----------------------------------------------------------------------


@pytest.mark.parametrize("token", ["wrong", settings.SMS_DELIVERY_TOKEN + "x", "test-sms-hook"])
def test_a_wrong_token_is_403_and_changes_nothing(client, token):
    sms()
    before = rows()

    response = report(client, token=token, id="ATXid_1", status="Success", phoneNumber=PHONE)

    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/plain")
    assert rows() == before


@pytest.mark.parametrize("token", ["anything", "-", "test-sms-hooks"])
def test_with_no_token_configured_every_report_is_403(client, settings, token):
    settings.SMS_DELIVERY_TOKEN = ""
    sms()
    before = rows()

    response = report(client, token=token, id="ATXid_1", status="Success", phoneNumber=PHONE)

    assert response.status_code == 403
    assert rows() == before


def test_the_source_allowlist_refuses_other_addresses(client, settings):
    settings.SMS_DELIVERY_ALLOWED_IPS = ["196.201.214.0/24"]
    row = sms()
    before = rows()
    fields = urlencode({"id": "ATXid_1", "status": "Success", "phoneNumber": PHONE})

    refused = client.post(url(), data=fields, content_type=FORM)  # from 127.0.0.1
    assert refused.status_code == 403 and b"may not send reports" in refused.content
    assert rows() == before

    taken = client.post(url(), data=fields, content_type=FORM, REMOTE_ADDR="196.201.214.200")
    assert taken.status_code == 200
    assert state(row)[0] == Status.DELIVERED


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_only_post_is_taken(client, method):
    sms()
    before = rows()

    response = getattr(client, method)(url())

    assert response.status_code == 405
    assert rows() == before


# --- bodies that are not reports ---------------------------------------------------------


def test_a_huge_body_is_413_before_it_is_read(client):
    sms()
    before = rows()
    body = urlencode(
        {"id": "ATXid_1", "status": "Success", "phoneNumber": PHONE, "pad": "x" * 5000}
    )

    response = report(client, body=body)

    assert response.status_code == 413
    assert b"4096" in response.content
    assert rows() == before


OVERLONG = {"id": "ATXid_1", "status": "Success", "phoneNumber": PHONE}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        ('{"id": "ATXid_1", "status": "Success"}', "application/json", 415, FORM),
        ('{"id": "ATXid_1", "status": "Success"}', FORM, 400, "not a form-encoded report"),
        ("just some text", FORM, 400, "not a form-encoded report"),
        (b"id=ATXid_1&status=Success&phoneNumber=+2547\xff", FORM, 400, "UTF-8"),
        ("id=ATXid_1%FF&status=Success", FORM, 400, "UTF-8"),
        ("", FORM, 400, "needs id and status"),
        ("status=Success&phoneNumber=%2B254711000111", FORM, 400, "needs id and status"),
        ("id=ATXid_1&phoneNumber=%2B254711000111", FORM, 400, "needs id and status"),
        ("id=&status=Success", FORM, 400, "needs id and status"),
        ("id=ATXid_1&status=Exploded", FORM, 400, "'Exploded'"),
        ("id=ATXid_1&status=success", FORM, 400, "'success'"),
        (urlencode({**OVERLONG, "id": "A" * 101}), FORM, 400, "id is longer than 100"),
        (
            urlencode({**OVERLONG, "phoneNumber": "+" + "7" * 20}),
            FORM,
            400,
            "phoneNumber is longer",
        ),
        (urlencode({**OVERLONG, "failureReason": "R" * 101}), FORM, 400, "failureReason is longer"),
        (urlencode({**OVERLONG, "status": "S" * 21}), FORM, 400, "status is longer"),
        ("&".join(f"f{i}=1" for i in range(30)) + "&id=ATXid_1&status=Success", FORM, 400, "form"),
    ],
)
def test_a_body_that_is_not_a_report_is_a_clear_4xx_and_changes_nothing(
    client, body, content_type, status, message
):
    sms()
    before = rows()

    response = report(client, body=body, content_type=content_type)

    assert response.status_code == status
    assert response["Content-Type"].startswith("text/plain")
    assert message in response.content.decode()
    assert rows() == before


def test_a_multipart_post_is_refused_as_not_form_encoded(client):
    sms()
    before = rows()

    response = client.post(url(), data={"id": "ATXid_1", "status": "Success"})  # multipart

    assert response.status_code == 415
    assert rows() == before


def test_a_content_length_that_is_not_a_number_is_400(client):
    sms()
    before = rows()

    response = client.post(
        url(), data="id=ATXid_1&status=Success", content_type=FORM, CONTENT_LENGTH="lots"
    )

    assert response.status_code == 400 and b"Content-Length" in response.content
    assert rows() == before


def test_a_charset_on_the_form_content_type_is_fine(client):
    row = sms()

    response = report(
        client,
        content_type=f"{FORM}; charset=UTF-8",
        id="ATXid_1",
        status="Success",
        phoneNumber=PHONE,
    )

    assert response.status_code == 200
    assert state(row)[0] == Status.DELIVERED


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (a report waiting on the run's row lock); CI runs it there",
)
def test_a_report_that_overtakes_its_run_is_applied_once_the_run_records_the_id():
    row = sms(status=Status.SENDING, provider_id="")
    recorded, commit = threading.Event(), threading.Event()

    def run_records_the_gateways_answer():
        try:
            with transaction.atomic():
                Notification.objects.filter(pk=row.pk, status=Status.SENDING).update(
                    status=Status.SENT, provider_id="ATXid_7", sent_at=timezone.now()
                )
                recorded.set()
                commit.wait(30)
        finally:
            connection.close()

    def report_arrives():
        try:
            return sms_delivery_report(provider_id="ATXid_7", status="Success", phone=PHONE)
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        run = pool.submit(run_records_the_gateways_answer)
        assert recorded.wait(30)
        # The report sees the row as the run found it (no id yet) and waits on its lock.
        answer = pool.submit(report_arrives)
        wait_for(lambda: waiting_on_a_lock() or answer.done(), what="the report to wait")
        commit.set()
        run.result(30)
        assert answer.result(30) == Status.DELIVERED
    assert state(row) == (Status.DELIVERED, "", "ATXid_7")


def waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0
