"""Stripe purchases end to end over sockets: the web tier (live server) creates Checkout
Sessions at the Stripe simulator with stripe-python, the simulator delivers signed events
to /hooks/stripe/ over HTTP, and a real worker fulfils, provisions and expires."""

import json
import uuid

import pytest
import requests
import stripe
from django.conf import settings

from apps.ops.models import AdminEvent
from apps.payments.models import CheckoutSession, Payment, StripeEvent, Suspense
from apps.provisioning.models import RadCheck, Subscription
from devstack.processes import free_port, wait_for
from tests.support.factories import RouterFactory
from tests.support.stripe_sim import StripeSim

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sim(stripe_sim, live_server, settings, package, empty_queues) -> StripeSim:
    """The simulator, emptied, delivering to this live server; purchases open to this host."""
    requests.post(f"{stripe_sim.url}/simulator/reset", json={}, timeout=5).raise_for_status()
    stripe_sim.knobs(
        webhook_url=f"{live_server.url}/hooks/stripe/",
        webhook_secret=settings.STRIPE_WEBHOOK_SECRET,
        duplicate_deliveries=0,
        retries=2,
        retry_delay=0.2,
        error_rate=0.0,
    )
    settings.STRIPE_API_BASE = stripe_sim.url
    settings.PURCHASE_RATE_EXEMPT_IPS = ["127.0.0.1"]
    settings.PURCHASE_RATE_PER_PHONE = "100/60"
    return stripe_sim


@pytest.fixture
def router(router_sim, db):
    router_sim.reset()
    return RouterFactory(port=router_sim.port)


def buy(live_server, phone: str = "0712345678") -> requests.Response:
    return requests.post(
        f"{live_server.url}/api/purchases/",
        json={"phone": phone, "package": "1h", "method": "stripe"},
        timeout=30,
    )


def pay(sim: StripeSim, checkout_url: str) -> None:
    """The buyer presses Pay on the checkout page; the browser is sent to the success URL."""
    response = requests.post(checkout_url, allow_redirects=False, timeout=10)
    assert response.status_code == 303, response.text
    assert response.headers["Location"].startswith(settings.STRIPE_SUCCESS_URL.split("?")[0])


def results(deliveries: list[dict]) -> list[tuple[int, str]]:
    return sorted((d["status"], json.loads(d["answer"]).get("result", "")) for d in deliveries)


def processed(payment_id) -> int:
    return AdminEvent.objects.filter(
        type=AdminEvent.Type.PAYMENT_PROCESSED, payload__payment__id=str(payment_id)
    ).count()


def fulfilled(payment_id) -> Payment:
    return wait_for(
        lambda: Payment.objects.filter(pk=payment_id, status="fulfilled").first(),
        timeout=60,
        what="the payment to be fulfilled",
    )


def test_a_stripe_purchase_is_paid_on_its_session_and_fulfilled_once(sim, live_server, worker):
    sim.knobs(duplicate_deliveries=1)  # every event arrives twice
    response = buy(live_server)
    assert response.status_code == 202, response.text
    body = response.json()
    payment_id = body["payment_id"]

    [created] = [r for r in sim.state()["requests"] if r["path"] == "/v1/checkout/sessions"]
    params = created["params"]
    assert params["mode"] == "payment"
    assert params["line_items"] == [
        {
            "quantity": "1",
            "price_data": {
                "currency": "kes",
                "unit_amount": "5000",
                "product_data": {"name": "Normal 1 Hour"},
            },
        }
    ]
    assert params["client_reference_id"] == payment_id
    assert params["metadata"]["payment_id"] == payment_id
    assert params["payment_intent_data"] == {"metadata": {"payment_id": payment_id}}
    assert created["idempotency_key"] == f"checkout-{payment_id}"
    [session] = sim.state()["sessions"]
    assert body["checkout_url"] == session["url"]
    assert CheckoutSession.objects.get(payment_id=payment_id).session_id == session["id"]

    pay(sim, body["checkout_url"])
    payment = fulfilled(payment_id)
    deliveries = sim.deliveries(4)  # the intent's and the session's events, twice each
    assert results(deliveries) == [(200, "duplicate")] * 3 + [(200, "paid")]
    [paid] = [s for s in sim.state()["sessions"] if s["id"] == session["id"]]
    assert payment.stripe_reference == paid["payment_intent"]
    assert processed(payment_id) == 1
    assert StripeEvent.objects.filter(payment=payment).count() == 2
    assert Subscription.objects.filter(payment=payment).count() == 1
    assert not Suspense.objects.exists()


def test_a_second_session_paid_for_a_paid_payment_lands_in_suspense(sim, live_server, worker):
    body = buy(live_server).json()
    pay(sim, body["checkout_url"])
    payment = fulfilled(body["payment_id"])
    sim.deliveries(2)
    # A second checkout for the same purchase (a retried page, a session made elsewhere).
    second = sim.client().v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "kes",
                        "unit_amount": 5000,
                        "product_data": {"name": "Normal 1 Hour"},
                    },
                }
            ],
            "client_reference_id": str(payment.pk),
            "payment_intent_data": {"metadata": {"payment_id": str(payment.pk)}},
            "success_url": settings.STRIPE_SUCCESS_URL,
        }
    )
    pay(sim, second.url)
    later = sim.deliveries(4)[2:]
    assert results(later) == [(200, "suspense"), (200, "suspense")]
    intent = sim.client().v1.checkout.sessions.retrieve(second.id).payment_intent
    held = Suspense.objects.get()
    assert (held.receipt, held.reason, held.payment_id, held.amount) == (
        intent,
        Suspense.Reason.NOT_OPEN,
        payment.pk,
        50,
    )
    assert intent in held.raw_callback
    payment.refresh_from_db()
    assert payment.status == "fulfilled" and payment.stripe_reference != intent
    assert processed(payment.pk) == 1


def test_a_refund_ends_the_subscription_on_radius_and_the_router(
    sim, live_server, worker, router, router_sim
):
    body = buy(live_server).json()
    pay(sim, body["checkout_url"])
    sub = wait_for(
        lambda: Subscription.objects.filter(
            payment_id=body["payment_id"], status="provisioned"
        ).first(),
        timeout=60,
        what="the user to be provisioned",
    )
    assert [u["name"] for u in router_sim.state()["users"]] == [sub.username]
    assert RadCheck.objects.filter(username=sub.username).exists()
    intent = Payment.objects.get(pk=body["payment_id"]).stripe_reference
    client = sim.client()

    client.v1.refunds.create({"payment_intent": intent, "amount": 1000})
    assert results(sim.deliveries(3)[2:]) == [(200, "refunded")]
    sub.refresh_from_db()
    assert sub.status == "provisioned" and router_sim.state()["users"]

    sim.knobs(duplicate_deliveries=1)
    client.v1.refunds.create({"payment_intent": intent})  # the rest: a full refund
    assert results(sim.deliveries(5)[3:]) == [(200, "duplicate"), (200, "refunded")]
    wait_for(
        lambda: Subscription.objects.get(pk=sub.pk).status == "expired",
        timeout=60,
        what="the subscription to end",
    )
    assert not RadCheck.objects.filter(username=sub.username).exists()
    assert router_sim.state()["users"] == []
    refunds = AdminEvent.objects.filter(
        type=AdminEvent.Type.PAYMENT_REFUNDED, payload__payment__id=body["payment_id"]
    ).order_by("id")
    assert [(e.payload["refund"]["full"], e.payload["access_ended"]) for e in refunds] == [
        (False, False),
        (True, True),
    ]


def test_a_forged_signature_is_refused_and_changes_nothing(sim, live_server, worker):
    sim.knobs(webhook_secret="whsec_not_ours", retries=1)
    body = buy(live_server).json()
    pay(sim, body["checkout_url"])
    deliveries = sim.deliveries(4)  # two events, each tried twice
    assert {d["status"] for d in deliveries} == {400}
    assert {json.loads(d["answer"])["error"]["code"] for d in deliveries} == {"bad_signature"}
    payment = Payment.objects.get(pk=body["payment_id"])
    assert payment.status == "pending" and payment.stripe_reference is None
    assert not StripeEvent.objects.exists()


def test_stripe_failing_answers_503_and_fails_the_payment(sim, live_server):
    sim.knobs(error_rate=1.0)
    response = buy(live_server)
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "stripe_unavailable"
    assert response.headers["Retry-After"] == "30"
    keys = [r["idempotency_key"] for r in sim.state()["requests"]]
    assert len(keys) == 1 + settings.STRIPE_MAX_NETWORK_RETRIES and len(set(keys)) == 1
    [payment] = Payment.objects.all()
    assert (payment.status, payment.result_code) == ("failed", "stripe_unavailable")
    assert not CheckoutSession.objects.exists()


def test_stripe_unreachable_answers_503(sim, live_server, settings):
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"
    response = buy(live_server)
    assert response.status_code == 503 and response.json()["error"]["code"] == (
        "stripe_unavailable"
    )
    assert Payment.objects.get().status == "failed"


def test_stripe_refusing_the_key_answers_502(sim, live_server, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_someone_else"
    response = buy(live_server)
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "stripe_refused"
    assert "Invalid API Key" in response.json()["error"]["message"]
    assert Payment.objects.get().result_code == "stripe_refused"


def test_stripe_not_configured_refuses_the_method_and_creates_nothing(client, package, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = client.post(
        "/api/purchases/",
        {"phone": "0712345678", "package": "1h", "method": "stripe"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "method"
    assert not Payment.objects.exists()


@pytest.mark.parametrize("unknown", ["cs_nope", uuid.uuid4().hex])
def test_the_simulator_answers_an_unknown_session_in_stripes_shape(sim, unknown):
    with pytest.raises(stripe.InvalidRequestError) as caught:
        sim.client().v1.checkout.sessions.retrieve(unknown)
    assert caught.value.code == "resource_missing" and caught.value.http_status == 404
