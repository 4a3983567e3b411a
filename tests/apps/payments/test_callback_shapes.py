"""Daraja sends fields we only keep in odd shapes: over HTTP to the hooks, the money still
moves; odd money fields are still refused."""

import pytest
import requests
from django.conf import settings

from tests.support import bodies
from tests.support.factories import PaymentFactory

pytestmark = pytest.mark.django_db(transaction=True)

CHECKOUT = "ws_CO_14032025101522418"


def hook(live_server, name: str, body: dict) -> requests.Response:
    url = f"{live_server.url}/hooks/{name}/{settings.DARAJA_CALLBACK_TOKEN}/"
    return requests.post(url, json=body, timeout=30)


def without(body: dict, *names: str) -> dict:
    meta = body["Body"]["stkCallback"]["CallbackMetadata"]
    meta["Item"] = [i for i in meta["Item"] if i["Name"] not in names]
    return body


ODD_STK = [
    bodies.item(bodies.stk_success(CHECKOUT), "PhoneNumber", "254712345678"),
    bodies.item(bodies.stk_success(CHECKOUT), "PhoneNumber", None),
    bodies.item(bodies.stk_success(CHECKOUT), "PhoneNumber", "2547 ***** 678"),
    bodies.item(bodies.stk_success(CHECKOUT), "TransactionDate", "20250314101547"),
    bodies.item(bodies.stk_success(CHECKOUT), "TransactionDate", "2025-03-14 10:15:47"),
    bodies.item(bodies.stk_success(CHECKOUT), "TransactionDate", {"at": 1}),
    without(bodies.stk_success(CHECKOUT), "PhoneNumber", "TransactionDate"),
]


@pytest.mark.parametrize("body", ODD_STK)
def test_an_stk_success_with_odd_kept_fields_pays(live_server, pending, empty_queues, body):
    answer = hook(live_server, "stk", body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    pending.refresh_from_db()
    assert (pending.status, pending.mpesa_receipt) == ("paid", "TCE4K9ZQ2M")


MISSING = object()
ODD_C2B = [
    {"TransactionType": 1},
    {"TransactionType": MISSING, "TransTime": MISSING, "MSISDN": MISSING, "FirstName": MISSING},
    {"TransactionType": None, "TransTime": None},
    {"TransTime": "2025-03-14T11:12:03"},
    {"TransTime": 20250314111203},
    {"MSISDN": 254712345678, "FirstName": None, "MiddleName": 0, "LastName": ["X"]},
]


@pytest.mark.parametrize("change", ODD_C2B)
def test_a_c2b_confirmation_with_odd_kept_fields_pays(live_server, package, empty_queues, change):
    payment = PaymentFactory(
        package=package, phone="254712345678", reference="HSKX7P2Q", method="paybill"
    )
    body = {**bodies.c2b(amount="50.00", bill_ref="HSKX7P2Q"), **change}
    body = {k: v for k, v in body.items() if v is not MISSING}
    answer = hook(live_server, "c2b/confirm", body)
    assert answer.status_code == 200, answer.text
    payment.refresh_from_db()
    assert (payment.status, payment.mpesa_receipt) == ("paid", "TCF7H2LQ9X")


@pytest.mark.parametrize(
    "body",
    [
        bodies.item(bodies.stk_success(CHECKOUT), "Amount", "50.00"),
        bodies.item(bodies.stk_success(CHECKOUT), "MpesaReceiptNumber", None),
        {
            "Body": {
                "stkCallback": {
                    **bodies.stk_success(CHECKOUT)["Body"]["stkCallback"],
                    "CheckoutRequestID": 12,
                }
            }
        },
        {
            "Body": {
                "stkCallback": {
                    **bodies.stk_success(CHECKOUT)["Body"]["stkCallback"],
                    "ResultCode": "0",
                }
            }
        },
    ],
)
def test_odd_money_fields_are_still_refused(live_server, pending, empty_queues, body):
    answer = hook(live_server, "stk", body)
    assert answer.status_code == 400
    pending.refresh_from_db()
    assert pending.status == "pending"


@pytest.mark.parametrize(
    "change",
    [
        {"TransAmount": 50},
        {"TransID": 123456},
        {"BillRefNumber": 42},
        {"BusinessShortCode": 174379},
    ],
)
def test_odd_c2b_money_fields_are_still_refused(live_server, package, empty_queues, change):
    payment = PaymentFactory(
        package=package, phone="254712345678", reference="HSKX7P2Q", method="paybill"
    )
    answer = hook(
        live_server, "c2b/confirm", {**bodies.c2b(amount="50.00", bill_ref="HSKX7P2Q"), **change}
    )
    assert answer.status_code == 400
    payment.refresh_from_db()
    assert payment.status == "pending"
