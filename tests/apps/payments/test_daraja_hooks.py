"""Daraja callbacks into /hooks/: settled once, refused clearly, nothing enqueued if refused."""

import json

import pytest

from apps.ops.models import AdminEvent
from apps.payments.models import Payment, Suspense
from tests.support import bodies

CHECKOUT = "ws_CO_14032025101522418"
STK = "/hooks/stk/test-hooks/"
VALIDATE = "/hooks/c2b/validate/test-hooks/"
CONFIRM = "/hooks/c2b/confirm/test-hooks/"


def state(payment: Payment) -> tuple:
    payment.refresh_from_db()
    return payment.status, payment.mpesa_receipt, payment.result_code


def test_a_successful_callback_pays_once_and_enqueues_once(post, pending, queued):
    response = post(STK, bodies.stk_success(CHECKOUT))
    assert response.status_code == 200
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert state(pending) == ("paid", "TCE4K9ZQ2M", "0")
    assert json.loads(pending.raw_callback) == bodies.stk_success(CHECKOUT)
    assert queued() == [("tasks.payments.fulfil_payment", {"payment_id": str(pending.pk)})]

    again = post(STK, bodies.stk_success(CHECKOUT))
    assert again.status_code == 200 and again.json()["ResultCode"] == 0
    assert len(queued()) == 1


@pytest.mark.parametrize(
    "code, status",
    [
        (1032, "cancelled"),
        (1037, "failed"),
        (1, "failed"),
        (2001, "failed"),
        ("SFC_IC0003", "failed"),
    ],
)
def test_a_failed_callback_settles_the_payment_with_its_code(post, pending, queued, code, status):
    response = post(STK, bodies.stk_failure(CHECKOUT, code=code, desc="words vary"))
    assert response.status_code == 200
    assert state(pending) == (status, None, str(code))
    assert pending.result_desc == "words vary"
    assert queued() == []
    [event] = AdminEvent.objects.filter(type=AdminEvent.Type.PAYMENT_FAILED)
    assert event.payload["payment"]["id"] == str(pending.pk)
    assert event.payload["payment"]["phone_number"] == "254712***678"


def test_a_success_after_a_failure_is_kept_aside_not_applied(post, pending, queued):
    post(STK, bodies.stk_failure(CHECKOUT, code=1037))
    response = post(STK, bodies.stk_success(CHECKOUT))
    assert response.status_code == 400
    assert state(pending)[0] == "failed"
    assert Suspense.objects.get().reason == Suspense.Reason.NOT_OPEN
    assert queued() == []


@pytest.mark.parametrize(
    "body, reason",
    [
        (bodies.stk_success("ws_CO_unknown"), "Unknown CheckoutRequestID"),
        (bodies.stk_success(CHECKOUT, amount=5), "Amount 5 differs"),
    ],
)
def test_a_callback_that_settles_nothing_is_refused_and_its_money_kept(
    post, pending, queued, body, reason
):
    response = post(STK, body)
    assert response.status_code == 400
    assert response.json()["ResultCode"] == 1 and reason in response.json()["ResultDesc"]
    assert state(pending) == ("pending", None, "")
    assert queued() == []
    assert Suspense.objects.get().receipt == "TCE4K9ZQ2M"


def test_a_receipt_that_paid_another_payment_is_refused(post, pending, package, queued):
    other = Payment.objects.create(
        package=package,
        phone="254712345679",
        amount=package.price,
        reference="HSOTHER2",
        status="fulfilled",
        mpesa_receipt="TCE4K9ZQ2M",
    )
    response = post(STK, bodies.stk_success(CHECKOUT))
    assert response.status_code == 400 and "already paid another" in response.json()["ResultDesc"]
    assert state(pending)[0] == "pending"
    assert not Suspense.objects.exists()
    assert other.status == "fulfilled" and queued() == []


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (json.dumps({"Body": {"stkCallback": "x"}}), 400),
        (b"x" * (1024 * 1024), 413),
    ],
)
def test_bad_bodies_get_a_clear_4xx(post, pending, queued, body, status):
    response = post(STK, body)
    assert response.status_code == status
    assert response.json()["ResultDesc"].startswith("Rejected: ")
    assert state(pending)[0] == "pending" and queued() == []


def test_a_wrong_token_or_address_is_forbidden(post, pending, queued, settings):
    assert post("/hooks/stk/guess/", bodies.stk_success(CHECKOUT)).status_code == 403
    settings.DARAJA_ALLOWED_IPS = ["196.201.212.69", "196.201.214.0/24"]
    assert post(STK, bodies.stk_success(CHECKOUT)).status_code == 403
    assert state(pending)[0] == "pending" and queued() == []
    allowed = post(STK, bodies.stk_success(CHECKOUT), REMOTE_ADDR="196.201.214.207")
    assert allowed.status_code == 200


def test_forwarded_addresses_count_only_from_trusted_proxies(post, pending, settings):
    settings.DARAJA_ALLOWED_IPS = ["196.201.212.69"]
    forged = {"HTTP_X_FORWARDED_FOR": "196.201.212.69"}
    assert post(STK, bodies.stk_success(CHECKOUT), **forged).status_code == 403
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert post(STK, bodies.stk_success(CHECKOUT), **forged).status_code == 200


def test_hooks_take_only_post(client):
    assert client.get(STK).status_code == 405


# --- C2B -------------------------------------------------------------------------------


@pytest.fixture
def paybill(package) -> Payment:
    return Payment.objects.create(
        package=package,
        phone="254712345678",
        amount=package.price,
        reference="HSKX7P2Q",
        method="paybill",
    )


@pytest.mark.parametrize(
    "body, answer",
    [
        (bodies.c2b(amount="50.00", bill_ref="hs-kx7p2q"), ("0", "Accepted")),
        (bodies.c2b(amount="50", bill_ref="HSKX7P2Q"), ("0", "Accepted")),
        (bodies.c2b(amount="50.00", bill_ref="HSNOPE99"), ("C2B00012", None)),
        (bodies.c2b(amount="40.00", bill_ref="HSKX7P2Q"), ("C2B00013", None)),
        (bodies.c2b(amount="50.00", shortcode="600982"), ("C2B00015", None)),
    ],
)
def test_c2b_validation_accepts_only_what_it_can_settle(post, paybill, body, answer):
    response = post(VALIDATE, body)
    assert response.status_code == 200
    assert response.json()["ResultCode"] == answer[0]
    if answer[1]:
        assert response.json()["ResultDesc"] == answer[1]
    assert state(paybill)[0] == "pending"


def test_c2b_confirmation_pays_once(post, paybill, queued):
    response = post(CONFIRM, bodies.c2b(amount="50.00"))
    assert response.json() == {"ResultCode": 0, "ResultDesc": "Success"}
    assert state(paybill) == ("paid", "TCF7H2LQ9X", "0")
    assert post(CONFIRM, bodies.c2b(amount="50.00")).status_code == 200
    assert queued() == [("tasks.payments.fulfil_payment", {"payment_id": str(paybill.pk)})]


@pytest.mark.parametrize(
    "body, reason",
    [
        (bodies.c2b(amount="50.00", bill_ref="HSNOPE99"), Suspense.Reason.UNMATCHED),
        (bodies.c2b(amount="45.00"), Suspense.Reason.AMOUNT),
    ],
)
def test_c2b_money_that_matches_nothing_is_acknowledged_and_kept(
    post, paybill, queued, body, reason
):
    response = post(CONFIRM, body)
    assert response.status_code == 200 and response.json()["ResultCode"] == 0
    assert Suspense.objects.get().reason == reason
    assert state(paybill)[0] == "pending" and queued() == []
    post(CONFIRM, body)
    assert Suspense.objects.count() == 1
    assert AdminEvent.objects.filter(type=AdminEvent.Type.PAYMENT_FAILED).count() == 1


def test_a_malformed_c2b_confirmation_is_refused(post, paybill, queued):
    response = post(CONFIRM, {**bodies.c2b(), "TransAmount": 50})
    assert response.status_code == 400
    assert response.json()["ResultCode"] == "C2B00016"
    assert state(paybill)[0] == "pending" and queued() == []


def test_a_callback_for_a_push_not_yet_saved_finds_its_payment_by_path(post, package, queued):
    payment = Payment.objects.create(
        package=package, phone="254712345678", amount=package.price, reference="HSEARLY2"
    )
    response = post("/hooks/stk/test-hooks/HSEARLY2/", bodies.stk_success("ws_CO_early"))
    assert response.status_code == 200
    assert state(payment) == ("paid", "TCE4K9ZQ2M", "0")
    assert payment.stk_requests.get().checkout_request_id == "ws_CO_early"
    assert queued() == [("tasks.payments.fulfil_payment", {"payment_id": str(payment.pk)})]


def test_a_path_naming_a_closed_or_unknown_payment_adopts_nothing(post, package, queued):
    Payment.objects.create(
        package=package,
        phone="254712345678",
        amount=package.price,
        reference="HSDONE22",
        status="failed",
    )
    for path in ("/hooks/stk/test-hooks/HSDONE22/", "/hooks/stk/test-hooks/HSNOPE22/"):
        assert post(path, bodies.stk_success("ws_CO_late")).status_code == 400
    assert Suspense.objects.get().checkout_request_id == "ws_CO_late"
    assert queued() == []
