"""One SMS delivery against the Africa's Talking simulator over HTTP: every answer the gateway
can give ends in the row's right state, and nothing is sent twice."""

import pytest
import requests

from apps.common.errors import TransientError
from apps.notifications.models import Channel, Notification, Status
from apps.notifications.selectors import notification_waiting
from apps.notifications.services import (
    DeliveryFailed,
    notification_deliver,
    notification_resend,
    notify,
)
from tests.support.factories import MemberFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def deliver(row: Notification, run: str = "task-1") -> str:
    return notification_deliver(notification_id=row.pk, run_id=run)


def _sms(member, text="Ref X") -> Notification:
    (row,) = notify(
        member=member,
        kind="provisioning_delayed",
        context={"operator": "Op", "package": "1 hour", "reference": text},
    )
    return row


def test_an_accepted_sms_is_sent_once_with_its_id_and_cost(gateway):
    member = MemberFactory(phone="254711000001")
    row = _sms(member)
    assert row.channel == Channel.SMS and row.address == "+254711000001"

    assert deliver(row) == Status.SENT
    assert deliver(row) == Status.SENT  # a rerun sends nothing

    (message,) = gateway.messages()
    assert message["to"] == "+254711000001" and "Ref X" in message["message"]
    row.refresh_from_db()
    assert (row.provider_id, row.cost, row.attempts) == (message["id"], "KES 0.8000", 1)


@pytest.mark.parametrize(
    ("code", "reason"),
    [(403, "InvalidPhoneNumber"), (406, "UserInBlacklist"), (405, "InsufficientBalance")],
)
def test_a_refused_number_is_failed_with_the_gateways_reason_and_not_retried(gateway, code, reason):
    member = MemberFactory(phone="254700000400")
    gateway.knobs(numbers={"+254700000400": code})
    row = _sms(member)

    assert deliver(row) == Status.FAILED
    assert deliver(row) == Status.FAILED

    row.refresh_from_db()
    assert (row.status, row.reason, row.provider_id) == (Status.FAILED, reason, "")
    assert gateway.state()["counts"]["sends"] == 1


@pytest.mark.parametrize("status", [503, 429])
def test_an_answer_that_the_gateway_took_nothing_puts_the_row_back_for_the_retry(gateway, status):
    row = _sms(MemberFactory())
    gateway.knobs(fail_next=1, fail_status=status)

    with pytest.raises(TransientError, match=str(status)):
        deliver(row)
    row.refresh_from_db()
    assert row.status == Status.PENDING and str(status) in row.error

    assert deliver(row) == Status.SENT
    assert len(gateway.messages()) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_another_5xx_may_come_after_the_gateway_took_it_so_it_is_unknown(gateway, status):
    row = _sms(MemberFactory())
    gateway.knobs(fail_next=1, fail_status=status)
    assert deliver(row) == Status.UNKNOWN
    assert deliver(row) == Status.UNKNOWN  # never sent again by a run
    row.refresh_from_db()
    assert str(status) in row.error


def test_a_claim_by_another_copy_is_left_to_it_and_one_by_an_earlier_attempt_is_unknown(gateway):
    row = _sms(MemberFactory())
    Notification.objects.filter(pk=row.pk).update(status=Status.SENDING, claimed_by="task-1")

    assert deliver(row, run="task-2") == Status.SENDING  # perhaps a live run: left alone
    row.refresh_from_db()
    assert row.status == Status.SENDING
    assert deliver(row, run="task-1") == Status.UNKNOWN  # its own earlier attempt died mid-call
    assert gateway.messages() == []


def test_a_row_resent_is_not_sent_again_by_a_retry_of_its_old_task(gateway):
    row = _sms(MemberFactory())
    Notification.objects.filter(pk=row.pk).update(status=Status.FAILED, error="gateway down")
    new = notification_resend(notification_id=row.pk)

    assert deliver(row) == Status.FAILED  # queue_retry of the old row's failed task
    assert deliver(new, run="task-9") == Status.SENT
    assert len(gateway.messages()) == 1


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("AFRICASTALKING_API_KEY", "", "AFRICASTALKING_API_KEY"),  # the backend cannot be built
        ("AFRICASTALKING_BASE_URL", "gateway.example.com", "cannot be made"),  # no scheme
    ],
)
def test_a_request_that_cannot_be_made_fails_for_good_without_sending(
    settings, setting, value, says
):
    settings.SMS_BACKEND = "apps.notifications.sms.AfricasTalkingBackend"
    setattr(settings, setting, value)
    row = _sms(MemberFactory())
    with pytest.raises(DeliveryFailed, match=says):
        deliver(row)
    row.refresh_from_db()
    assert row.status == Status.PENDING  # the final failure hook marks it FAILED


def test_a_timeout_after_the_gateway_took_it_is_unknown_and_never_sent_again(gateway, settings):
    settings.SMS_READ_TIMEOUT = 0.3
    gateway.knobs(slow_answer=1.0)
    row = _sms(MemberFactory())

    assert deliver(row) == Status.UNKNOWN
    assert deliver(row) == Status.UNKNOWN

    assert len(gateway.messages()) == 1
    row.refresh_from_db()
    assert row.status == Status.UNKNOWN and "no answer" in row.error


def test_no_connection_is_not_sent_and_retried(settings):
    settings.SMS_BACKEND = "apps.notifications.sms.AfricasTalkingBackend"
    settings.AFRICASTALKING_BASE_URL = "http://127.0.0.1:9"
    row = _sms(MemberFactory())
    with pytest.raises(TransientError, match="no connection"):
        deliver(row)
    row.refresh_from_db()
    assert row.status == Status.PENDING


def test_a_wrong_api_key_fails_for_good_without_sending(gateway, settings):
    settings.AFRICASTALKING_API_KEY = "not-the-key"
    row = _sms(MemberFactory())
    with pytest.raises(DeliveryFailed, match="API key"):
        deliver(row)
    assert gateway.messages() == []


def test_the_simulator_speaks_the_api_the_backend_expects(gateway):
    answer = requests.post(
        f"{gateway.url}/version1/messaging",
        data={"username": gateway.username, "to": "+254711000009", "message": "hi"},
        headers={"apiKey": gateway.api_key, "Accept": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 201
    (recipient,) = answer.json()["SMSMessageData"]["Recipients"]
    assert recipient["statusCode"] == 101 and recipient["messageId"].startswith("ATXid_")


def test_a_second_copy_of_a_delivery_checks_the_row_before_it_takes_a_token():
    row = _sms(MemberFactory())
    assert notification_waiting(notification_id=row.pk, run_id="task-1")  # to claim
    Notification.objects.filter(pk=row.pk).update(status=Status.SENDING, claimed_by="task-1")
    assert notification_waiting(notification_id=row.pk, run_id="task-1")  # its own to settle
    assert not notification_waiting(notification_id=row.pk, run_id="task-2")  # someone else's
    Notification.objects.filter(pk=row.pk).update(status=Status.SENT)
    assert not notification_waiting(notification_id=row.pk, run_id="task-1")
