"""POST /hooks/stripe/: verified with the stripe library, each event handled once."""

import time

import pytest
from django.conf import settings

from apps.payments.models import Payment, StripeEvent, Suspense
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
        "amount_total": 5000,
        "currency": "kes",
        **changes,
    }


def test_a_paid_checkout_session_pays_once(deliver, card, queued):
    payload = bodies.stripe_event("evt_1", "checkout.session.completed", session(card))
    response = deliver(payload)
    assert response.status_code == 200 and response.json()["result"] == "paid"
    card.refresh_from_db()
    assert (card.status, card.stripe_reference) == ("paid", "cs_test_a1B2c3")
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
        "evt_4", "checkout.session.completed", session(card, id="cs_2", currency="usd")
    )
    assert deliver(usd).json()["result"] == "suspense"


def test_other_events_are_acknowledged_and_ignored(deliver, card, queued):
    for event_id, type_, obj in [
        ("evt_5", "charge.refunded", {"id": "ch_1"}),
        ("evt_6", "checkout.session.completed", session(card, payment_status="unpaid")),
        ("evt_7", "checkout.session.completed", session(card, client_reference_id="nope")),
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
