"""JSON over HTTP for our endpoints: bounded bodies, clear 4xx errors, the client's address."""

import ipaddress
import json
import logging
from typing import Literal

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from apps.common.ratelimit import Rate, Unavailable, hit

log = logging.getLogger("conveyor.http")


class BadRequest(Exception):
    """The request cannot be accepted; ``status`` and ``code`` say why, ``message`` says how."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        code: str = "bad_request",
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message, self.status, self.code, self.field = message, status, code, field
        self.headers = headers or {}


def error_response(error: BadRequest) -> JsonResponse:
    body = {"error": {"code": error.code, "message": error.message}}
    if error.field:
        body["error"]["field"] = error.field
    response = JsonResponse(body, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def redis_unavailable(exc: Exception) -> JsonResponse:
    """503 for a read that needs Redis while it does not answer."""
    message = f"Redis does not answer: {exc}"
    return error_response(BadRequest(message, status=503, code="redis_unavailable"))


def read_body(request: HttpRequest, max_bytes: int) -> bytes:
    """The raw body, refused with 413 past ``max_bytes`` before more than that is read."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit():
        raise BadRequest("Content-Length is not a number.")
    if int(declared) > max_bytes:
        raise BadRequest(
            f"The body is larger than {max_bytes} bytes.", status=413, code="too_large"
        )
    return request.body


def read_json_object(request: HttpRequest, max_bytes: int) -> tuple[bytes, dict]:
    """The raw body and its JSON object; 400 for anything else."""
    raw = read_body(request, max_bytes)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The body is not valid JSON.", code="malformed_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="malformed_json")
    return raw, data


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the nearest X-Forwarded-For hop outside the
    proxies in TRUSTED_PROXIES (a header from anyone else is ignored)."""
    remote = request.META.get("REMOTE_ADDR", "")
    trusted = settings.TRUSTED_PROXIES
    if not trusted or not _in(remote, trusted):
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop
    return remote


def _in(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


def ip_allowed(address: str, allowlist: list[str]) -> bool:
    """True when the allowlist is empty (not enforced) or holds the address."""
    return not allowlist or _in(address, allowlist)


def json_view(view):
    """Turn a BadRequest raised by ``view`` into its JSON 4xx answer, logged."""

    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except BadRequest as error:
            log.warning(
                "http.refused path=%s ip=%s status=%s code=%s reason=%s",
                request.path,
                client_ip(request),
                error.status,
                error.code,
                error.message,
            )
            return error_response(error)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


# Retry-After for a limit that cannot be counted: about how long a Redis restart takes.
UNAVAILABLE_RETRY_AFTER = 30


def rate_limit(
    what: str,
    scope: str,
    key: str,
    rate_text: str,
    *,
    when_unavailable: Literal["refuse", "allow"],
) -> None:
    """Count one of ``what`` for ``key`` against ``rate_text`` ("COUNT/SECONDS"); 429 past it.

    Each caller chooses what happens while Redis (the counter) is down: "refuse" answers 503
    with Retry-After, for sign-in, which must never become unlimited guessing; "allow" lets
    the request through, logged, for purchases, where refusing a paying buyer because the
    limiter is down is worse than a burst getting through.
    """
    try:
        retry_after = hit(f"{what}:{scope}", key, Rate.parse(rate_text))
    except Unavailable:
        log.warning(
            "ratelimit.unavailable what=%s scope=%s then=%s",
            what,
            scope,
            when_unavailable,
            exc_info=True,
        )
        if when_unavailable == "allow":
            return
        raise BadRequest(
            f"{what.capitalize()} are paused: the rate limiter is unavailable; "
            f"try again in {UNAVAILABLE_RETRY_AFTER} s.",
            status=503,
            code="rate_limiter_unavailable",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
        ) from None
    if retry_after:
        raise BadRequest(
            f"Too many {what} from this {scope}; try again in {retry_after} s.",
            status=429,
            code="rate_limited",
            headers={"Retry-After": str(retry_after)},
        )
