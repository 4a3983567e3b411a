"""What a captive portal reads: the packages its hotspot sells, and the Checkout URL of a
card payment while it is open."""

import pytest

from apps.payments.models import CheckoutSession, Payment
from tests.support.factories import PackageFactory, PaymentFactory, RouterFactory

pytestmark = pytest.mark.django_db


def codes(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {p["code"] for p in response.json()["packages"]}


def test_a_hotspot_sees_only_the_packages_sold_on_it(client):
    cafe = RouterFactory(name="Cafe", identity="hs-cafe")
    RouterFactory(name="Library", identity="hs-library")
    everywhere = PackageFactory(code="1h")
    cafe_only = PackageFactory(code="1d", name="Daily")
    cafe_only.routers.add(cafe)
    assert codes(client.get("/api/packages/")) == {everywhere.code, cafe_only.code}
    assert codes(client.get("/api/packages/", {"router": "hs-cafe"})) == {"1h", "1d"}
    assert codes(client.get("/api/packages/", {"router": "Cafe"})) == {"1h", "1d"}
    assert codes(client.get("/api/packages/", {"router": "hs-library"})) == {"1h"}


def test_an_unknown_or_inactive_router_is_a_clear_400(client):
    RouterFactory(name="Old", identity="hs-old", is_active=False)
    PackageFactory()
    for key in ("hs-nowhere", "hs-old"):
        response = client.get("/api/packages/", {"router": key})
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": "unknown_router",
            "message": "There is no active router by that name or identity.",
            "field": "router",
        }


def test_an_open_card_payment_shows_where_the_buyer_pays(client):
    payment = PaymentFactory(package=PackageFactory(), method=Payment.Method.STRIPE)
    CheckoutSession.objects.create(
        payment=payment, session_id="cs_test_a1", url="https://checkout.example/c/pay/cs_test_a1"
    )
    state = client.get(f"/api/payments/{payment.pk}/").json()
    assert state["checkout_url"] == "https://checkout.example/c/pay/cs_test_a1"
    Payment.objects.filter(pk=payment.pk).update(status=Payment.Status.PAID)
    assert "checkout_url" not in client.get(f"/api/payments/{payment.pk}/").json()


def test_an_mpesa_payment_has_no_checkout_url(client):
    payment = PaymentFactory(package=PackageFactory())
    assert "checkout_url" not in client.get(f"/api/payments/{payment.pk}/").json()
