"""Daraja and Stripe bodies as the external formats reference gives them."""

import copy
import hashlib
import hmac
import json
import time


def stk_success(
    checkout: str, amount=50.00, receipt: str = "TCE4K9ZQ2M", phone: int = 254712345678
) -> dict:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "7d3a-4c1e-9b52-5f0e2a81c6d4118204",
                "CheckoutRequestID": checkout,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20250314101547},
                        {"Name": "PhoneNumber", "Value": phone},
                    ]
                },
            }
        }
    }


def stk_failure(checkout: str, code=1032, desc: str = "Request cancelled by user") -> dict:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "a91c-44f0-8e1d-03b7c2d9e5f1207713",
                "CheckoutRequestID": checkout,
                "ResultCode": code,
                "ResultDesc": desc,
            }
        }
    }


def item(body: dict, name: str, value) -> dict:
    """A copy of an STK success body with one metadata item's value replaced."""
    body = copy.deepcopy(body)
    for entry in body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]:
        if entry["Name"] == name:
            entry["Value"] = value
    return body


def c2b(
    trans_id: str = "TCF7H2LQ9X",
    amount: str = "100.00",
    bill_ref: str = "HS-KX7P2Q",
    shortcode: str = "174379",
) -> dict:
    return {
        "TransactionType": "Pay Bill",
        "TransID": trans_id,
        "TransTime": "20250314111203",
        "TransAmount": amount,
        "BusinessShortCode": shortcode,
        "BillRefNumber": bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": "48211.00",
        "ThirdPartyTransID": "",
        "MSISDN": "2547 ***** 678",
        "FirstName": "JANE",
        "MiddleName": "",
        "LastName": "",
    }


def stripe_event(event_id: str, type_: str, obj: dict) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": type_,
            "created": 1741946390,
            "livemode": False,
            "data": {"object": obj},
        },
        separators=(",", ":"),
    ).encode()


def stripe_signature(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header, built as Stripe builds it (works on any library version)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"
