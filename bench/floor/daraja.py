"""The floor's Daraja client: an STK push, with one session and one OAuth token per process
(created on first use, so in the pool child, never inherited across a fork)."""

import base64
from datetime import datetime
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

import requests
from django.conf import settings

NAIROBI = ZoneInfo("Africa/Nairobi")


@cache
def session() -> requests.Session:
    return requests.Session()


@cache
def token() -> str:
    response = session().get(
        f"{settings.DARAJA_BASE_URL}/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        auth=(settings.DARAJA_CONSUMER_KEY, settings.DARAJA_CONSUMER_SECRET),
        timeout=settings.SERVICE_TIMEOUT,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def stk_push(*, phone: str, amount: Decimal, reference: str, callback_url: str) -> str:
    """Ask Daraja to prompt ``phone``; its CheckoutRequestID."""
    stamp = datetime.now(NAIROBI).strftime("%Y%m%d%H%M%S")
    secret = f"{settings.DARAJA_SHORTCODE}{settings.DARAJA_PASSKEY}{stamp}"
    response = session().post(
        f"{settings.DARAJA_BASE_URL}/mpesa/stkpush/v1/processrequest",
        json={
            "BusinessShortCode": settings.DARAJA_SHORTCODE,
            "Password": base64.b64encode(secret.encode()).decode(),
            "Timestamp": stamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": int(amount),
            "PartyA": phone,
            "PartyB": settings.DARAJA_SHORTCODE,
            "PhoneNumber": phone,
            "CallBackURL": callback_url,
            "AccountReference": reference[:12],
            "TransactionDesc": "floor",
        },
        headers={"Authorization": f"Bearer {token()}"},
        timeout=settings.SERVICE_TIMEOUT,
    )
    if response.status_code == 401:  # a token Daraja no longer knows: ask again next time
        token.cache_clear()
    response.raise_for_status()
    return response.json()["CheckoutRequestID"]
