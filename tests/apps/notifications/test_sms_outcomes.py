"""One SMS delivery against the Africa's Talking simulator over HTTP: every answer the gateway
can give ends in the row's right state, and nothing is sent twice."""

import pytest
import requests

from apps.common.errors import TransientError
from apps.notifications.models import Channel, Notification, Status
from apps.notifications.services import DeliveryFailed, notification_deliver, notify
from tests.support.factories import MemberFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


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

    assert notification_deliver(notification_id=row.pk) == Status.SENT
    assert notification_deliver(notification_id=row.pk) == Status.SENT  # a rerun sends nothing

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

    assert notification_deliver(notification_id=row.pk) == Status.FAILED
    assert notification_deliver(notification_id=row.pk) == Status.FAILED

    row.refresh_from_db()
    assert (row.status, row.reason, row.provider_id) == (Status.FAILED, reason, "")
    assert gateway.state()["counts"]["sends"] == 1


def test_a_5xx_puts_the_row_back_for_the_retry(gateway):
    row = _sms(MemberFactory())
    gateway.knobs(fail_next=1)

    with pytest.raises(TransientError, match="500"):
        notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert row.status == Status.PENDING and "500" in row.error

    assert notification_deliver(notification_id=row.pk) == Status.SENT
    assert len(gateway.messages()) == 1


def test_a_timeout_after_the_gateway_took_it_is_unknown_and_never_sent_again(gateway, settings):
    settings.SMS_READ_TIMEOUT = 0.3
    gateway.knobs(slow_answer=1.0)
    row = _sms(MemberFactory())

    assert notification_deliver(notification_id=row.pk) == Status.UNKNOWN
    assert notification_deliver(notification_id=row.pk) == Status.UNKNOWN

    assert len(gateway.messages()) == 1
    row.refresh_from_db()
    assert row.status == Status.UNKNOWN and "no answer" in row.error


def test_no_connection_is_not_sent_and_retried(settings):
    settings.SMS_BACKEND = "apps.notifications.sms.AfricasTalkingBackend"
    settings.AFRICASTALKING_BASE_URL = "http://127.0.0.1:9"
    row = _sms(MemberFactory())
    with pytest.raises(TransientError, match="no connection"):
        notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert row.status == Status.PENDING


def test_a_wrong_api_key_fails_for_good_without_sending(gateway, settings):
    settings.AFRICASTALKING_API_KEY = "not-the-key"
    row = _sms(MemberFactory())
    with pytest.raises(DeliveryFailed, match="API key"):
        notification_deliver(notification_id=row.pk)
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
