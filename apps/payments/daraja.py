"""Safaricom Daraja client: OAuth token, STK push, STK query.

Network errors and 5xx answers raise DarajaUnavailable (a TransientError: the task retries
with the payments backoff); 4xx answers and refusals raise DarajaRefused (permanent). A
request sent but not answered in DARAJA_TIMEOUT raises DarajaAmbiguous (a DarajaUnavailable):
Daraja may have acted on it, which matters for an STK push (services/stk.py).
Formats: the Daraja section of the external formats reference.
"""

import base64
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

import requests
from django.conf import settings
from django.core.cache import cache as django_cache

from apps.common.errors import ApplicationError, TransientError

log = logging.getLogger("conveyor.daraja")

NAIROBI = ZoneInfo("Africa/Nairobi")
TOKEN_KEY = "daraja:token"  # noqa: S105 - a cache key, not a secret
# Daraja's answer to an STK query for a CheckoutRequestID it has no final word on.
QUERY_NOT_FOUND = "500.001.1001"
# Daraja refuses a callback URL containing any of these, in any case.
FILTERED_IN_URLS = ("mpesa", "m-pesa", "safaricom", "exe", "exec", "cmd", "sql", "query")


def url_is_filtered(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in FILTERED_IN_URLS)


class DarajaUnavailable(TransientError):
    """Daraja did not answer, or answered 5xx: try again later."""


class DarajaAmbiguous(DarajaUnavailable):
    """The request was sent and no answer came in time: Daraja may have acted on it."""


class DarajaRefused(ApplicationError):
    """Daraja refused the request (4xx, or a non-zero ResponseCode)."""

    def __init__(self, message: str, code: str = ""):
        super().__init__(message)
        self.code = code


class DarajaNoRecord(DarajaRefused):
    """STK query: Daraja has no final record of this request (yet)."""


@dataclass(frozen=True)
class StkPushed:
    merchant_request_id: str
    checkout_request_id: str


@dataclass(frozen=True)
class StkStatus:
    result_code: str  # as text: "0", "1032", ...
    result_desc: str


@cache
def _session() -> requests.Session:
    # One pooled session per process: keep-alive to Daraja saves a TLS handshake per call.
    return requests.Session()


def timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(NAIROBI)).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def password(stamp: str) -> str:
    raw = f"{settings.DARAJA_SHORTCODE}{settings.DARAJA_PASSKEY}{stamp}"
    return base64.b64encode(raw.encode()).decode()


def token() -> str:
    """The OAuth access token, shared through the cache until shortly before it expires."""
    cached = django_cache.get(TOKEN_KEY)
    if cached:
        return cached
    try:
        body = _call(
            "GET",
            "/oauth/v1/generate?grant_type=client_credentials",
            auth=(settings.DARAJA_CONSUMER_KEY, settings.DARAJA_CONSUMER_SECRET),
        )
    except DarajaAmbiguous as exc:  # a token asked twice is harmless: plainly retryable
        raise DarajaUnavailable(str(exc)) from exc
    try:
        access, lifetime = body["access_token"], int(body["expires_in"])
    except (KeyError, TypeError, ValueError):
        raise DarajaUnavailable(f"OAuth answer without a token: {body!r}") from None
    django_cache.set(TOKEN_KEY, access, timeout=max(lifetime - 60, 1))
    return access


def _signed() -> dict:
    """The shortcode, password and timestamp every STK request carries."""
    stamp = timestamp()
    return {
        "BusinessShortCode": settings.DARAJA_SHORTCODE,
        "Password": password(stamp),
        "Timestamp": stamp,
    }


def stk_push(
    *, phone: str, amount: Decimal, reference: str, description: str, callback_url: str
) -> StkPushed:
    body = _authorized(
        "/mpesa/stkpush/v1/processrequest",
        {
            **_signed(),
            "TransactionType": settings.DARAJA_TRANSACTION_TYPE,
            "Amount": int(amount),
            "PartyA": phone,
            "PartyB": settings.DARAJA_SHORTCODE,
            "PhoneNumber": phone,
            "CallBackURL": callback_url,
            "AccountReference": reference[:12],
            "TransactionDesc": description[:13],
        },
    )
    if str(body.get("ResponseCode")) != "0":
        raise DarajaRefused(f"STK push refused: {body!r}", code=str(body.get("ResponseCode")))
    try:
        return StkPushed(str(body["MerchantRequestID"]), str(body["CheckoutRequestID"]))
    except KeyError:
        raise DarajaUnavailable(f"STK push answer without ids: {body!r}") from None


def stk_query(checkout_request_id: str) -> StkStatus:
    body = _authorized(
        "/mpesa/stkpushquery/v1/query",
        {**_signed(), "CheckoutRequestID": checkout_request_id},
    )
    if "ResultCode" not in body:
        raise DarajaUnavailable(f"STK query answer without ResultCode: {body!r}")
    return StkStatus(str(body["ResultCode"]), str(body.get("ResultDesc", "")))


def _authorized(path: str, payload: dict) -> dict:
    try:
        return _call("POST", path, json=payload, headers={"Authorization": f"Bearer {token()}"})
    except DarajaRefused as exc:
        if exc.code == "404.001.03":  # the token was revoked or expired early
            django_cache.delete(TOKEN_KEY)
            raise DarajaUnavailable(str(exc)) from exc
        raise


def _call(method: str, path: str, **kwargs) -> dict:
    url = settings.DARAJA_BASE_URL.rstrip("/") + path
    try:
        response = _session().request(method, url, timeout=settings.DARAJA_TIMEOUT, **kwargs)
    except requests.ReadTimeout as exc:
        raise DarajaAmbiguous(f"{method} {path}: no answer in {settings.DARAJA_TIMEOUT} s") from exc
    except requests.RequestException as exc:
        raise DarajaUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
    try:
        body = response.json()
    except ValueError:
        body = {"text": response.text[:500]}
    if not isinstance(body, dict):
        body = {"body": body}
    code = str(body.get("errorCode", ""))
    if code == QUERY_NOT_FOUND:
        raise DarajaNoRecord(str(body.get("errorMessage", "no record")), code=code)
    if response.status_code >= 500:
        raise DarajaUnavailable(f"{method} {path}: HTTP {response.status_code} {body!r}")
    if response.status_code >= 400:
        raise DarajaRefused(f"{method} {path}: HTTP {response.status_code} {body!r}", code=code)
    return body
