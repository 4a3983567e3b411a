"""Daraja callback bodies, checked field by field into typed values.

Strict only where money is decided: CheckoutRequestID, ResultCode, Amount and
MpesaReceiptNumber in an STK callback; TransID, TransAmount, BillRefNumber and
BusinessShortCode in a C2B notice. Those in the wrong type are refused (ResultCode and
Amount are JSON numbers, every C2B value is text; a named code such as SFC_IC0003 is the
only text ResultCode accepted). Fields we keep but never decide on (the STK callback's
PhoneNumber and TransactionDate; C2B's TransactionType, TransTime, MSISDN and names) are
taken when well formed and otherwise logged and left empty: an odd shape there must not
refuse money that has moved.
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from apps.common.http import BadRequest

log = logging.getLogger("conveyor.payments.callbacks")

NAIROBI = ZoneInfo("Africa/Nairobi")
_ID = re.compile(r"^[A-Za-z0-9_\-.:]{1,64}$")
_RECEIPT = re.compile(r"^[A-Z0-9]{6,20}$")
_NAMED_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")
_AMOUNT_TEXT = re.compile(r"^\d{1,9}(\.\d{1,2})?$")


def invalid(message: str, field: str | None = None) -> BadRequest:
    return BadRequest(message, code="invalid_callback", field=field)


@dataclass(frozen=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: str
    result_desc: str
    amount: Decimal | None = None
    receipt: str | None = None
    phone: str | None = None
    transaction_date: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"


def parse_stk_callback(data: dict) -> StkCallback:
    stk = _object(_object(data, "Body"), "stkCallback")
    code = stk.get("ResultCode")
    if isinstance(code, bool) or not (
        (isinstance(code, int) and abs(code) < 10**9)
        or (isinstance(code, str) and _NAMED_CODE.match(code))
    ):
        raise invalid("ResultCode must be a JSON integer (or a named code).", "ResultCode")
    callback = {
        "merchant_request_id": _id(stk, "MerchantRequestID"),
        "checkout_request_id": _id(stk, "CheckoutRequestID"),
        "result_code": str(code),
        "result_desc": _text(stk, "ResultDesc", 1000),
    }
    if code != 0:
        return StkCallback(**callback)
    items = _object(stk, "CallbackMetadata").get("Item")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise invalid("CallbackMetadata.Item must be a list of objects.", "CallbackMetadata")
    by_name = {i.get("Name"): i.get("Value") for i in items if isinstance(i.get("Name"), str)}
    amount = _number(by_name.get("Amount"), "Amount")
    if amount <= 0:
        raise invalid("Amount must be positive.", "Amount")
    receipt = by_name.get("MpesaReceiptNumber")
    if not isinstance(receipt, str) or not _RECEIPT.match(receipt):
        raise invalid(
            "MpesaReceiptNumber must be 6-20 capital letters or digits.", "MpesaReceiptNumber"
        )
    phone = _digits(by_name.get("PhoneNumber"), "PhoneNumber", 15)
    date = _digits(by_name.get("TransactionDate"), "TransactionDate", 14)
    return StkCallback(
        **callback,
        amount=amount,
        receipt=receipt,
        phone=phone,
        transaction_date=_loose_stamp(date, "TransactionDate") if date else None,
    )


@dataclass(frozen=True)
class C2BNotice:
    trans_id: str
    amount: Decimal
    shortcode: str
    bill_ref: str
    trans_type: str = ""
    trans_time: datetime | None = None
    msisdn: str = ""


C2B_MONEY_FIELDS = ("TransID", "TransAmount", "BillRefNumber", "BusinessShortCode")


def parse_c2b(data: dict) -> C2BNotice:
    for key in C2B_MONEY_FIELDS:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise invalid(f"{key} must be text, as Daraja sends every C2B value.", key)
    trans_id = data.get("TransID")
    if not isinstance(trans_id, str) or not _RECEIPT.match(trans_id):
        raise invalid("TransID must be 6-20 capital letters or digits.", "TransID")
    amount_text = data.get("TransAmount")
    if not isinstance(amount_text, str) or not _AMOUNT_TEXT.match(amount_text):
        raise invalid("TransAmount must be an amount such as 100 or 100.00.", "TransAmount")
    amount = Decimal(amount_text)
    if amount <= 0:
        raise invalid("TransAmount must be positive.", "TransAmount")
    for name in ("FirstName", "MiddleName", "LastName"):
        _loose_text(data, name, 100)
    time_text = _loose_text(data, "TransTime", 14)
    return C2BNotice(
        trans_id=trans_id,
        amount=amount,
        shortcode=_text(data, "BusinessShortCode", 20),
        bill_ref=str(data.get("BillRefNumber") or "")[:40],
        trans_type=_loose_text(data, "TransactionType", 40),
        trans_time=_loose_stamp(time_text, "TransTime") if time_text else None,
        msisdn=_loose_text(data, "MSISDN", 64),
    )


def _object(data: dict, key: str) -> dict:
    value = data.get(key)
    if not isinstance(value, dict):
        raise invalid(f"{key} must be an object.", key)
    return value


def _id(data: dict, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not _ID.match(value):
        raise invalid(f"{key} must be an identifier of up to 64 characters.", key)
    return value


def _text(data: dict, key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(f"{key} must be text of at most {limit} characters.", key)
    return value


def _number(value, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(f"{field} must be a JSON number.", field)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise invalid(f"{field} must be a finite number.", field) from None
    if (
        not number.is_finite()
        or number.adjusted() > 9
        or number != number.quantize(Decimal("0.01"))
    ):
        raise invalid(f"{field} must be an amount with at most two decimals.", field)
    return number


# Fields kept but never decided on: an odd shape is logged and read as empty.


def _odd(field: str, value) -> None:
    log.warning("daraja.odd_field field=%s value=%.60r (ignored)", field, value)


def _digits(value, field: str, limit: int) -> str | None:
    """A number Daraja sends as a JSON integer; the same digits as text are taken too."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= limit:
        return value
    _odd(field, value)
    return None


def _loose_text(data: dict, key: str, limit: int) -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and len(value) <= limit):
        return value or ""
    _odd(key, value)
    return ""


def _loose_stamp(text: str, field: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
    except ValueError:
        _odd(field, text)
        return None
