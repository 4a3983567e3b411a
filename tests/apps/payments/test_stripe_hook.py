"""POST /hooks/stripe/: verified with the stripe library, each event handled once."""

import json
import time

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.ops.models import AdminEvent
from apps.payments.models import Payment, StripeEvent, Suspense
from apps.payments.services import payment_fulfil
from apps.provisioning.models import Subscription
from tests.support import bodies

URL = "/hooks/stripe/"


@pytest.fixture
def card(package) -> Payment:
    return Payment.objects.create(
        package=package,
        phone="254712345678",
        amount=package.price,
        reference="HSCARD22",
        method="stripe",
    )


@pytest.fixture
def deliver(post):
    def send(payload: bytes, signature: str | None = None):
        if signature is None:
            signature = bodies.stripe_signature(payload, settings.STRIPE_WEBHOOK_SECRET)
        return post(URL, payload, HTTP_STRIPE_SIGNATURE=signature)

    return send


def session(payment: Payment, **changes) -> dict:
    return {
        "id": "cs_test_a1B2c3",
        "object": "checkout.session",
        "payment_status": "paid",
        "client_reference_id": str(payment.pk),
        "payment_intent": "pi_1",
        "amount_total": 5000,
        "currency": "kes",
        **changes,
    }


def test_a_paid_checkout_session_pays_once(deliver, card, queued):
    payload = bodies.stripe_event("evt_1", "checkout.session.completed", session(card))
    response = deliver(payload)
    assert response.status_code == 200 and response.json()["result"] == "paid"
    card.refresh_from_db()
    assert (card.status, card.stripe_reference) == ("paid", "pi_1")  # the money: its intent
    assert queued() == [("tasks.payments.fulfil_payment", {"payment_id": str(card.pk)})]

    assert deliver(payload).json()["result"] == "duplicate"
    intent = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount_received": 5000,
        "currency": "kes",
        "metadata": {"payment_id": str(card.pk)},
    }
    other = deliver(bodies.stripe_event("evt_2", "payment_intent.succeeded", intent))
    assert other.json()["result"] == "duplicate"
    assert len(queued()) == 1
    assert StripeEvent.objects.count() == 2


def test_a_wrong_amount_or_currency_is_kept_aside(deliver, card, queued):
    payload = bodies.stripe_event(
        "evt_3", "checkout.session.completed", session(card, amount_total=4000)
    )
    assert deliver(payload).json()["result"] == "suspense"
    card.refresh_from_db()
    assert card.status == "pending" and queued() == []
    assert Suspense.objects.get().reason == Suspense.Reason.AMOUNT
    usd = bodies.stripe_event(
        "evt_4",
        "checkout.session.completed",
        session(card, id="cs_2", payment_intent="pi_2", currency="usd"),
    )
    assert deliver(usd).json()["result"] == "suspense"


def test_other_events_are_acknowledged_and_ignored(deliver, card, queued):
    for event_id, type_, obj in [
        ("evt_5", "charge.refunded", {"id": "ch_1"}),
        ("evt_6", "checkout.session.completed", session(card, payment_status="unpaid")),
        ("evt_7", "checkout.session.expired", session(card, payment_status="unpaid")),
    ]:
        response = deliver(bodies.stripe_event(event_id, type_, obj))
        assert response.status_code == 200 and response.json()["result"] == "ignored"
    card.refresh_from_db()
    assert card.status == "pending" and queued() == []


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "t=1,v1=00",
        "garbage",
        "stale",
        "other-secret",
    ],
)
def test_a_forged_missing_or_stale_signature_is_400(deliver, card, queued, signature):
    payload = bodies.stripe_event("evt_8", "checkout.session.completed", session(card))
    if signature == "stale":
        signature = bodies.stripe_signature(
            payload, settings.STRIPE_WEBHOOK_SECRET, timestamp=int(time.time()) - 301
        )
    elif signature == "other-secret":
        signature = bodies.stripe_signature(payload, "whsec_someone_else")
    response = deliver(payload, signature=signature)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_signature"
    card.refresh_from_db()
    assert card.status == "pending" and queued() == [] and not StripeEvent.objects.exists()


def test_the_references_fixture_is_too_old_for_the_default_tolerance(deliver, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_fixture_not_a_real_secret"
    body = (
        b'{"id":"evt_1QxTEST0000000000000001","object":"event","type":'
        b'"checkout.session.completed","created":1741946390,"livemode":false,"data":'
        b'{"object":{"id":"cs_test_a1B2c3","object":"checkout.session","payment_status":'
        b'"paid"}}}'
    )
    header = "t=1741946400,v1=ab7948b95ef9865fa0f4bf1e44d1095830fb51c08912e5dd64d8cfa0a7cd9809"
    response = deliver(body, signature=header)
    assert response.status_code == 400
    assert "tolerance" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"id": "evt_9"}', b'{"id": 1, "type": "x", "data": {"object": {}}}'],
)
def test_a_signed_body_that_is_not_an_event_is_400(deliver, payload, queued):
    assert deliver(payload).status_code == 400
    assert queued() == []


def test_an_unconfigured_hook_says_so(deliver, settings, card):
    settings.STRIPE_WEBHOOK_SECRET = ""
    payload = bodies.stripe_event("evt_10", "checkout.session.completed", session(card))
    assert deliver(payload, signature="t=1,v1=00").status_code == 404


def intent(payment: Payment, **changes) -> dict:
    return {
        "id": "pi_1",
        "object": "payment_intent",
        "amount_received": 5000,
        "currency": "kes",
        "metadata": {"payment_id": str(payment.pk)},
        **changes,
    }


def charge(**changes) -> dict:
    return {
        "id": "ch_1",
        "object": "charge",
        "amount": 5000,
        "amount_refunded": 5000,
        "refunded": True,
        "currency": "kes",
        "payment_intent": "pi_1",
        **changes,
    }


def test_paid_money_that_names_no_payment_is_kept_in_suspense(deliver, card, queued):
    payload = bodies.stripe_event(
        "evt_20", "checkout.session.completed", session(card, client_reference_id="nope")
    )
    assert deliver(payload).json()["result"] == "suspense"
    held = Suspense.objects.get()
    assert (held.receipt, held.amount, held.reason, held.payment) == (
        "pi_1",
        50,
        Suspense.Reason.UNMATCHED,
        None,
    )
    assert held.raw_callback == payload.decode()
    card.refresh_from_db()
    assert card.status == "pending" and queued() == []


def test_the_intent_event_first_then_the_session_is_one_payment(deliver, card, queued):
    assert deliver(bodies.stripe_event("evt_21", "payment_intent.succeeded", intent(card)))
    session_event = bodies.stripe_event("evt_22", "checkout.session.completed", session(card))
    assert deliver(session_event).json()["result"] == "duplicate"
    card.refresh_from_db()
    assert (card.status, card.stripe_reference) == ("paid", "pi_1")
    assert len(queued()) == 1 and not Suspense.objects.exists()


def test_a_second_paid_session_for_a_paid_payment_is_kept_in_suspense(deliver, card, queued):
    deliver(bodies.stripe_event("evt_23", "checkout.session.completed", session(card)))
    second = session(card, id="cs_second", payment_intent="pi_2")
    payload = bodies.stripe_event("evt_24", "checkout.session.completed", second)
    assert deliver(payload).json()["result"] == "suspense"
    # The second intent's own event is the same extra money: still one row.
    again = bodies.stripe_event("evt_25", "payment_intent.succeeded", intent(card, id="pi_2"))
    assert deliver(again).json()["result"] == "suspense"
    held = Suspense.objects.get()
    assert (held.receipt, held.reason, held.payment, held.amount) == (
        "pi_2",
        Suspense.Reason.NOT_OPEN,
        card,
        50,
    )
    assert held.raw_callback == payload.decode()
    card.refresh_from_db()
    assert (card.status, card.stripe_reference) == ("paid", "pi_1")
    assert len(queued()) == 1


def test_a_late_payment_for_an_expired_payment_is_kept_in_suspense(deliver, card, queued):
    Payment.objects.filter(pk=card.pk).update(status="failed")
    payload = bodies.stripe_event("evt_26", "checkout.session.completed", session(card))
    assert deliver(payload).json()["result"] == "suspense"
    assert Suspense.objects.get().reason == Suspense.Reason.NOT_OPEN
    assert queued() == []


def refunded_events(payment: Payment) -> list[dict]:
    return [
        e.payload
        for e in AdminEvent.objects.filter(
            type=AdminEvent.Type.PAYMENT_REFUNDED, payload__payment__id=str(payment.pk)
        )
    ]


def test_a_partial_refund_tells_staff_and_leaves_the_payment(deliver, card, queued):
    deliver(bodies.stripe_event("evt_27", "checkout.session.completed", session(card)))
    partial = charge(amount_refunded=1000, refunded=False)
    response = deliver(bodies.stripe_event("evt_28", "charge.refunded", partial))
    assert response.json()["result"] == "refunded"
    [event] = refunded_events(card)
    assert event["refund"] == {"charge": "ch_1", "amount_refunded": "10", "full": False}
    assert event["access_ended"] is False
    card.refresh_from_db()
    assert card.status == "paid" and len(queued()) == 1


def test_a_full_refund_before_fulfilment_cancels_the_payment_once(deliver, card, queued):
    deliver(bodies.stripe_event("evt_29", "checkout.session.completed", session(card)))
    refund = bodies.stripe_event("evt_30", "charge.refunded", charge())
    assert deliver(refund).json()["result"] == "refunded"
    assert deliver(refund).json()["result"] == "duplicate"
    card.refresh_from_db()
    assert card.status == "cancelled"
    assert payment_fulfil(payment_id=card.pk) is False  # the queued hand-off finds nothing
    [event] = refunded_events(card)
    assert event["refund"]["full"] is True and event["access_ended"] is True


def test_a_full_refund_after_fulfilment_ends_the_subscription(deliver, card, queued, redis_client):
    deliver(bodies.stripe_event("evt_31", "checkout.session.completed", session(card)))
    with transaction.atomic():
        assert payment_fulfil(payment_id=card.pk)
    redis_client.delete("provisioning")
    deliver(bodies.stripe_event("evt_32", "charge.refunded", charge()))
    sub = Subscription.objects.get(payment=card)
    assert sub.ends_at <= timezone.now()
    [message] = [json.loads(m) for m in redis_client.lrange("provisioning", 0, -1)]
    assert message["headers"]["task"] == "tasks.provisioning.expire_subscription"
    [event] = refunded_events(card)
    assert event["access_ended"] is True and event["payment"]["status"] == "fulfilled"


def test_a_refund_of_money_that_paid_nothing_changes_nothing(deliver, card, queued):
    deliver(bodies.stripe_event("evt_33", "checkout.session.completed", session(card)))
    other = charge(id="ch_9", payment_intent="pi_9")
    assert deliver(bodies.stripe_event("evt_34", "charge.refunded", other)).json() == {
        "received": True,
        "result": "ignored",
    }
    card.refresh_from_db()
    assert card.status == "paid" and refunded_events(card) == []
