"""Which router a purchase goes to: the one the captive portal names (by name or RouterOS
identity), the only active one, or none (RADIUS alone); refusals change nothing."""

import pytest
from django.db import transaction

from apps.accounts.services import member_get_or_create_by_phone
from apps.payments.models import Payment
from apps.provisioning.models import Subscription
from apps.provisioning.services import subscription_create_for_payment
from tests.support.factories import RouterFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def unlimited(settings):
    settings.PURCHASE_RATE_PER_PHONE = "1000/60"
    settings.PURCHASE_RATE_PER_IP = "1000/60"


@pytest.fixture
def buy(post, package):
    def send(**fields):
        return post("/api/purchases/", {"phone": "0712345678", "package": "1h", **fields})

    return send


@pytest.fixture
def two_routers(db):
    return (
        RouterFactory(name="Office", identity="hs-office"),
        RouterFactory(name="Cafe", identity="hs-cafe"),
    )


def bought_on(response):
    assert response.status_code == 202, response.json()
    return Payment.objects.get(pk=response.json()["payment_id"]).router


def refused(response, code: str) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["field"], error["code"]) == ("router", code), error
    assert error["message"]


def test_with_no_router_at_all_a_purchase_is_radius_alone(buy, queued):
    assert bought_on(buy()) is None
    assert [name for name, _ in queued()] == ["tasks.payments.request_stk_push"]


def test_with_one_active_router_it_may_be_omitted(buy):
    RouterFactory(name="Old", is_active=False)
    only = RouterFactory(name="Office")
    assert bought_on(buy()) == only


def test_the_router_is_chosen_by_name_or_by_identity(buy, two_routers):
    office, cafe = two_routers
    assert bought_on(buy(router="Cafe")) == cafe
    assert bought_on(buy(router="hs-office")) == office  # $(identity) on the login page


def test_with_several_routers_omitting_it_is_refused(buy, two_routers, queued):
    refused(buy(), "router_required")
    assert not Payment.objects.exists() and queued() == []


@pytest.mark.parametrize("key", ["Nowhere", "hs-old", "Old", "office"])
def test_an_unknown_or_inactive_router_is_refused(buy, two_routers, queued, key):
    RouterFactory(name="Old", identity="hs-old", is_active=False)
    refused(buy(router=key), "unknown_router")
    assert not Payment.objects.exists() and queued() == []


@pytest.mark.parametrize("key", [123, "", "x" * 101, ["Office"], None])
def test_a_router_of_the_wrong_shape_is_refused(buy, two_routers, queued, key):
    response = buy(router=key)
    if key is None:  # JSON null: omitted, and with two routers that is refused too
        refused(response, "router_required")
    else:
        refused(response, "invalid_router")
    assert not Payment.objects.exists() and queued() == []


def test_a_package_limited_to_some_routers_is_sold_only_there(buy, two_routers, package, queued):
    office, _cafe = two_routers
    package.routers.set([office])
    refused(buy(router="Cafe"), "not_sold_here")
    assert not Payment.objects.exists() and queued() == []
    assert bought_on(buy(router="hs-office")) == office


def test_a_package_limited_to_routers_none_of_which_is_active_is_refused(buy, package, queued):
    package.routers.set([RouterFactory(name="Closed", is_active=False)])
    refused(buy(), "not_sold_here")
    assert not Payment.objects.exists() and queued() == []


def test_fulfilment_creates_the_subscription_on_the_payments_router(two_routers, package):
    _office, cafe = two_routers  # the office router is older: the old code chose it
    payment = Payment.objects.create(
        package=package,
        phone="254712345678",
        amount=package.price,
        reference="HSROUTE1",
        status="paid",
        router=cafe,
    )
    member, _ = member_get_or_create_by_phone(phone=payment.phone)
    with transaction.atomic():
        sub = subscription_create_for_payment(payment=payment, member=member)
    assert Subscription.objects.get(pk=sub.pk).router == cafe


def test_a_payment_without_a_router_among_several_goes_to_radius_alone(two_routers, package):
    payment = Payment.objects.create(
        package=package,
        phone="254712345678",
        amount=package.price,
        reference="HSROUTE2",
        status="paid",
    )
    member, _ = member_get_or_create_by_phone(phone=payment.phone)
    with transaction.atomic():
        sub = subscription_create_for_payment(payment=payment, member=member)
    assert Subscription.objects.get(pk=sub.pk).router is None
