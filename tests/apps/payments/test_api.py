"""The captive portal's API: packages, purchases (202, limits), payment state."""

import uuid
from datetime import timedelta

import pytest

from apps.payments.models import Package, Payment


@pytest.fixture
def buy(post):
    return lambda body, **extra: post("/api/purchases/", body, **extra)


def test_packages_lists_what_is_on_sale(client, package):
    Package.objects.create(
        code="old", name="Retired", price=5, duration=timedelta(hours=1), is_active=False
    )
    response = client.get("/api/packages/")
    assert response.status_code == 200
    assert response.json() == {
        "packages": [
            {
                "code": "1h",
                "name": "Normal 1 Hour",
                "price": "50.00",
                "currency": "KES",
                "duration": 3600,
                "rate_limit": "2M/2M",
                "data_cap_bytes": None,
            }
        ]
    }


def test_a_purchase_is_202_and_requests_an_stk_push_on_commit(buy, package, queued):
    response = buy({"phone": "0712 345 678", "package": "1h"})
    assert response.status_code == 202
    body = response.json()
    payment = Payment.objects.get(pk=body["payment_id"])
    assert body == {
        "payment_id": str(payment.pk),
        "status": "pending",
        "amount": "50.00",
        "currency": "KES",
        "reference": payment.reference,
    }
    assert uuid.UUID(body["payment_id"]).version == 4
    assert (payment.phone, payment.amount, payment.method) == ("254712345678", 50, "stk_push")
    assert queued() == [("tasks.payments.request_stk_push", {"payment_id": str(payment.pk)})]


def test_a_paybill_purchase_says_where_to_pay_and_pushes_nothing(buy, package, queued):
    body = buy({"phone": "254712345678", "package": "1h", "method": "paybill"}).json()
    assert body["paybill"] == {"business_number": "174379", "account_number": body["reference"]}
    assert queued() == []


@pytest.mark.parametrize(
    "body, status, field",
    [
        (b"{nope", 400, None),
        (b"[]", 400, None),
        ({"package": "1h"}, 400, "phone"),
        ({"phone": 254712345678, "package": "1h"}, 400, "phone"),
        ({"phone": "12345", "package": "1h"}, 400, "phone"),
        ({"phone": "0712345678"}, 400, "package"),
        ({"phone": "0712345678", "package": ["1h"]}, 400, "package"),
        ({"phone": "0712345678", "package": "nope"}, 400, "package"),
        ({"phone": "0712345678", "package": "1h", "method": "cash"}, 400, "method"),
    ],
)
def test_bad_purchases_are_4xx_and_create_nothing(buy, package, queued, body, status, field):
    response = buy(body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"] and error.get("field") == field
    assert not Payment.objects.exists() and queued() == []


def test_a_huge_body_is_413(buy, package, queued):
    response = buy(b'{"phone": "' + b"7" * (1024 * 1024) + b'"}')
    assert response.status_code == 413
    assert not Payment.objects.exists()


def test_purchases_are_limited_per_phone(buy, package, queued, settings, redis_client):
    settings.PURCHASE_RATE_PER_PHONE = "2/300"
    phone = f"0712{uuid.uuid4().int % 10**6:06d}"
    assert [buy({"phone": phone, "package": "1h"}).status_code for _ in range(2)] == [202, 202]
    refused = buy({"phone": phone, "package": "1h"})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 0 < int(refused["Retry-After"]) <= 300
    assert Payment.objects.count() == 2 and len(queued()) == 2
    assert buy({"phone": "0799000111", "package": "1h"}).status_code == 202


def test_purchases_are_limited_per_address_unless_exempt(buy, package, settings):
    settings.PURCHASE_RATE_PER_IP = "3/60"
    address = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    codes = [
        buy({"phone": f"071200000{i}", "package": "1h"}, REMOTE_ADDR=address).status_code
        for i in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    settings.PURCHASE_RATE_EXEMPT_IPS = [address]
    assert buy({"phone": "0712000009", "package": "1h"}, REMOTE_ADDR=address).status_code == 202


def test_a_payment_can_be_polled_by_its_id(client, pending):
    response = client.get(f"/api/payments/{pending.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["payment_id"] == str(pending.pk)
    assert (body["status"], body["package"], body["amount"]) == ("pending", "1h", "50.00")
    assert body["paid_at"] is None and body["fulfilled_at"] is None


@pytest.mark.parametrize(
    "path", [f"/api/payments/{uuid.uuid4()}/", "/api/payments/not-a-uuid/", "/api/payments/1/"]
)
def test_an_unknown_payment_is_404(client, db, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["mpesa", "stk_push"])
def test_the_stk_push_keeps_its_public_name_mpesa(buy, package, queued, method):
    phone = f"0712{uuid.uuid4().int % 10**6:06d}"
    body = buy({"phone": phone, "package": "1h", "method": method}).json()
    assert Payment.objects.get(pk=body["payment_id"]).method == Payment.Method.STK_PUSH
    assert "paybill" not in body and len(queued()) == 1


def test_a_refused_method_lists_the_documented_names(buy, package):
    response = buy({"phone": "0712345678", "package": "1h", "method": ["mpesa"]})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "method must be one of mpesa, paybill, stripe."
