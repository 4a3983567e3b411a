"""Parsing Daraja callbacks: the reference's fixtures pass, wrong types in the fields money
depends on are refused, odd shapes in the fields only kept are logged and read as empty."""

import contextlib
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from apps.common.http import BadRequest
from apps.payments.callbacks import parse_c2b, parse_stk_callback
from tests.support import bodies

CHECKOUT = "ws_CO_14032025101522418712345678"


def test_the_reference_success_callback():
    callback = parse_stk_callback(bodies.stk_success(CHECKOUT))
    assert callback.succeeded
    assert callback.amount == Decimal("50.00")
    assert callback.receipt == "TCE4K9ZQ2M"
    assert callback.phone == "254712345678"
    assert callback.transaction_date.isoformat() == "2025-03-14T10:15:47+03:00"


@pytest.mark.parametrize("code", [1032, 1037, 1, 2001, 17, 9999])
def test_failure_callbacks_keep_their_code_as_text(code):
    callback = parse_stk_callback(bodies.stk_failure(CHECKOUT, code=code, desc="any words"))
    assert not callback.succeeded
    assert callback.result_code == str(code)
    assert callback.amount is None


def test_a_named_result_code_is_a_failure():
    callback = parse_stk_callback(bodies.stk_failure(CHECKOUT, code="SFC_IC0003"))
    assert callback.result_code == "SFC_IC0003" and not callback.succeeded


def test_balance_may_lack_a_value_or_be_missing():
    body = bodies.stk_success(CHECKOUT)
    items = body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"] = [
        i for i in items if i["Name"] != "Balance"
    ]
    assert parse_stk_callback(body).succeeded


@pytest.mark.parametrize(
    "body, field",
    [
        (bodies.stk_failure(CHECKOUT, code="0"), "ResultCode"),
        (bodies.stk_failure(CHECKOUT, code="1032"), "ResultCode"),
        (bodies.stk_failure(CHECKOUT, code=True), "ResultCode"),
        (bodies.item(bodies.stk_success(CHECKOUT), "Amount", "50.00"), "Amount"),
        (bodies.item(bodies.stk_success(CHECKOUT), "Amount", 0), "Amount"),
        (bodies.item(bodies.stk_success(CHECKOUT), "Amount", 50.001), "Amount"),
        (bodies.item(bodies.stk_success(CHECKOUT), "Amount", 1e300), "Amount"),
        (
            bodies.item(bodies.stk_success(CHECKOUT), "MpesaReceiptNumber", 12345),
            "MpesaReceiptNumber",
        ),
        ({"Body": {}}, "stkCallback"),
        ({"Body": {"stkCallback": {"ResultCode": 0}}}, "MerchantRequestID"),
    ],
)
def test_wrong_types_and_missing_fields_are_refused(body, field):
    with pytest.raises(BadRequest) as error:
        parse_stk_callback(body)
    assert error.value.field == field and error.value.status == 400


@pytest.mark.parametrize(
    "name, value, kept",
    [
        ("PhoneNumber", "254712345678", "254712345678"),
        ("PhoneNumber", "2547 ***** 678", None),
        ("PhoneNumber", None, None),
        ("PhoneNumber", 2547.5, None),
        ("TransactionDate", "20250314101547", "2025-03-14T10:15:47+03:00"),
        ("TransactionDate", 20251399999999, None),
        ("TransactionDate", "2025-03-14T10:15:47", None),
        ("TransactionDate", [], None),
    ],
)
def test_odd_shapes_of_fields_only_kept_do_not_refuse(name, value, kept, caplog):
    callback = parse_stk_callback(bodies.item(bodies.stk_success(CHECKOUT), name, value))
    assert callback.succeeded and callback.receipt == "TCE4K9ZQ2M"
    got = callback.phone if name == "PhoneNumber" else callback.transaction_date
    assert (got.isoformat() if hasattr(got, "isoformat") else got) == kept
    if kept is None and value is not None:
        assert f"field={name}" in caplog.text


def test_missing_phone_and_date_items_do_not_refuse():
    body = bodies.stk_success(CHECKOUT)
    meta = body["Body"]["stkCallback"]["CallbackMetadata"]
    meta["Item"] = [i for i in meta["Item"] if i["Name"] not in ("PhoneNumber", "TransactionDate")]
    callback = parse_stk_callback(body)
    assert callback.succeeded and callback.phone is None and callback.transaction_date is None


@pytest.mark.parametrize(
    "change",
    [
        {"TransTime": "2025-03-14"},
        {"TransTime": 20250314111203},
        {"TransactionType": 7},
        {"TransactionType": None},
        {"MSISDN": 254712345678},
        {"FirstName": None, "LastName": ["JANE"]},
        {"OrgAccountBalance": 48211.0},
    ],
)
def test_c2b_fields_only_kept_may_come_in_any_shape(change):
    notice = parse_c2b({**bodies.c2b(), **change})
    assert (notice.trans_id, notice.amount) == ("TCF7H2LQ9X", Decimal("100.00"))


def test_a_success_without_metadata_is_refused():
    body = bodies.stk_success(CHECKOUT)
    del body["Body"]["stkCallback"]["CallbackMetadata"]
    with pytest.raises(BadRequest, match="CallbackMetadata"):
        parse_stk_callback(body)


def test_the_reference_c2b_notice():
    notice = parse_c2b(bodies.c2b())
    assert (notice.trans_id, notice.amount, notice.bill_ref) == (
        "TCF7H2LQ9X",
        Decimal("100.00"),
        "HS-KX7P2Q",
    )
    assert parse_c2b(bodies.c2b(amount="10")).amount == Decimal("10")


@pytest.mark.parametrize(
    "change",
    [
        {"TransAmount": 100.0},
        {"TransAmount": "ten"},
        {"TransAmount": "-5"},
        {"TransAmount": "0"},
        {"TransID": ""},
        {"TransID": None},
        {"BillRefNumber": 42},
        {"BusinessShortCode": 174379},
    ],
)
def test_c2b_values_must_be_well_formed_text(change):
    body = {**bodies.c2b(), **change}
    with pytest.raises(BadRequest):
        parse_c2b(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=15), json_values, max_size=6))
def test_any_object_parses_or_is_refused_cleanly(body):
    for parse in (parse_stk_callback, parse_c2b):
        with contextlib.suppress(BadRequest):
            parse(body)


@given(json_values)
def test_any_value_inside_a_real_envelope_parses_or_is_refused_cleanly(value):
    for name in ("Amount", "MpesaReceiptNumber", "PhoneNumber", "TransactionDate"):
        with contextlib.suppress(BadRequest):
            parse_stk_callback(bodies.item(bodies.stk_success(CHECKOUT), name, value))
