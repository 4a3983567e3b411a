"""The payments API for the captive portal, and the Daraja and Stripe hooks.

Views parse and check the request, call one service and answer; they hold no business
logic. Every refusal is a 4xx with a JSON reason, logged; nothing is enqueued for it.
"""

import hmac
import json
import logging
import uuid

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.phone import normalize_phone
from apps.common.errors import ApplicationError
from apps.common.http import (
    BadRequest,
    client_ip,
    ip_allowed,
    json_view,
    rate_limit,
    read_body,
    read_json_object,
)
from apps.payments import selectors, services
from apps.payments.callbacks import parse_c2b, parse_stk_callback
from apps.payments.models import Payment
from apps.provisioning import selectors as provisioning_selectors

log = logging.getLogger("conveyor.payments.http")

# A purchase's method by the name the API takes (see purchases): the documented names, and
# the stored name of the STK push.
API_METHODS = {
    "mpesa": Payment.Method.STK_PUSH,
    "paybill": Payment.Method.PAYBILL,
    "stripe": Payment.Method.STRIPE,
}
PURCHASE_METHODS = {**API_METHODS, Payment.Method.STK_PUSH.value: Payment.Method.STK_PUSH}


# --- the captive portal's API ----------------------------------------------------------


@require_GET
@json_view
def packages(request):
    """The packages on sale; ``?router=<name or identity>``: those sold on that router (the
    captive portal of one hotspot asks this way)."""
    router_id = None
    if "router" in request.GET:
        router = provisioning_selectors.router_find_active(key=request.GET["router"][:255])
        if router is None:
            raise BadRequest(
                "There is no active router by that name or identity.",
                field="router",
                code="unknown_router",
            )
        router_id = router.pk
    return JsonResponse(
        {
            "packages": [
                {
                    "code": p.code,
                    "name": p.name,
                    "price": str(p.price),
                    "currency": "KES",
                    "duration": int(p.duration.total_seconds()),
                    "rate_limit": p.rate_limit,
                    "data_cap_bytes": p.data_cap_bytes,
                }
                for p in selectors.package_list_on_sale(router_id=router_id)
            ]
        }
    )


@csrf_exempt
@require_POST
@json_view
def purchases(request):
    """Buy a package: 202 with the payment id; the STK prompt follows on the phone, or
    (method stripe) the buyer pays on ``checkout_url``; 503/502 when Stripe cannot make it.

    ``method`` keeps its public names: "mpesa" (the documented default) is the STK push,
    although the push is stored as ``Payment.Method.STK_PUSH`` ("stk_push") since paybill is
    M-Pesa too; "stk_push" is accepted as well. A refusal lists the documented names
    (mpesa, paybill, stripe), as it always has, and no answer names the stored value.
    """
    ip = client_ip(request)
    if ip not in settings.PURCHASE_RATE_EXEMPT_IPS:
        rate_limit(
            "purchases", "address", ip, settings.PURCHASE_RATE_PER_IP, when_unavailable="allow"
        )
    _, data = read_json_object(request, settings.REQUEST_MAX_BYTES)
    phone, code = data.get("phone"), data.get("package")
    method = data.get("method", "mpesa")
    router = data.get("router")
    if not isinstance(phone, str):
        raise BadRequest(
            "phone must be a text such as 0712345678.", field="phone", code="invalid_phone"
        )
    if not isinstance(code, str) or not code:
        raise BadRequest(
            "package must be the code of a package.", field="package", code="invalid_package"
        )
    if not isinstance(method, str) or method not in PURCHASE_METHODS:
        raise BadRequest(
            f"method must be one of {', '.join(API_METHODS)}.",
            field="method",
            code="invalid_method",
        )
    if router is not None and not (isinstance(router, str) and 0 < len(router) <= 100):
        raise BadRequest(
            "router must be the name or identity of a router ($(identity) on the login page).",
            field="router",
            code="invalid_router",
        )
    method = PURCHASE_METHODS[method]
    if method == Payment.Method.STRIPE and not settings.STRIPE_SECRET_KEY:
        raise BadRequest("Stripe is not offered here.", field="method", code="invalid_method")
    try:
        phone = normalize_phone(phone)
    except ValidationError as exc:
        raise BadRequest(exc.messages[0], field="phone", code="invalid_phone") from None
    rate_limit(
        "purchases",
        "phone number",
        phone,
        settings.PURCHASE_RATE_PER_PHONE,
        when_unavailable="allow",
    )
    try:
        payment = services.purchase_create(
            phone=phone, package_code=code, method=method, router_key=router
        )
    except services.PurchaseRouterError as exc:
        raise BadRequest(str(exc), field="router", code=exc.code) from None
    except services.StripeUnavailable as exc:
        raise BadRequest(
            str(exc), status=503, code="stripe_unavailable", headers={"Retry-After": "30"}
        ) from None
    except services.StripeRefused as exc:
        raise BadRequest(str(exc), status=502, code="stripe_refused") from None
    except ApplicationError as exc:
        raise BadRequest(str(exc), field="package", code="unknown_package") from None
    body = {
        "payment_id": str(payment.pk),
        "status": payment.status,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "reference": payment.reference,
    }
    if method == Payment.Method.PAYBILL:
        body["paybill"] = {
            "business_number": settings.DARAJA_SHORTCODE,
            "account_number": payment.reference,
        }
    elif method == Payment.Method.STRIPE:
        body["checkout_url"] = selectors.checkout_url(payment_id=payment.pk)
    return JsonResponse(body, status=202)


def _payment_key(payment_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(payment_id))
    except ValueError:
        raise BadRequest("No such payment.", status=404, code="not_found") from None


@require_GET
@json_view
def payment_detail(request, payment_id):
    """A payment's state, for the portal to poll."""
    payment = selectors.payment_get(payment_id=_payment_key(payment_id))
    if payment is None:
        raise BadRequest("No such payment.", status=404, code="not_found")
    return JsonResponse(selectors.payment_state(payment))


@require_GET
@json_view
def payment_receipt(request, payment_id):
    """The payment's receipt PDF, once drawn (``receipt_pdf`` in its state says when); 404
    before. The payment's id is the key, as for its state."""
    receipt = selectors.receipt_get_ready(payment_id=_payment_key(payment_id))
    handle = receipt and selectors.receipt_open(receipt=receipt)
    if handle is None:
        if receipt is not None:
            log.error("receipt.file_missing number=%s file=%s", receipt.number, receipt.file)
        raise BadRequest("This payment has no receipt yet.", status=404, code="not_found")
    return FileResponse(
        handle, as_attachment=True, filename=f"{receipt.number}.pdf", content_type="application/pdf"
    )


# --- Daraja ----------------------------------------------------------------------------


def _daraja_guard(request, token: str) -> None:
    """The secret path segment (constant-time) and, if configured, the source address."""
    expected = settings.DARAJA_CALLBACK_TOKEN
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise BadRequest("Unknown callback address.", status=403, code="forbidden")
    if not ip_allowed(client_ip(request), settings.DARAJA_ALLOWED_IPS):
        raise BadRequest("This address may not call the hooks.", status=403, code="forbidden")


def _daraja_view(reject_code):
    """Daraja hooks answer a refusal in Daraja's shape, with a 4xx status."""

    def decorate(view):
        def wrapped(request, token, **path):
            try:
                _daraja_guard(request, token)
                raw, data = read_json_object(request, settings.REQUEST_MAX_BYTES)
                return view(request, raw.decode("utf-8", errors="replace"), data, **path)
            except BadRequest as error:
                log.warning(
                    "daraja.refused path=%s ip=%s status=%s reason=%s",
                    request.path.replace(token, "<token>"),
                    client_ip(request),
                    error.status,
                    error.message,
                )
                return JsonResponse(
                    {"ResultCode": reject_code, "ResultDesc": f"Rejected: {error.message}"},
                    status=error.status,
                )

        wrapped.__name__, wrapped.__doc__ = view.__name__, view.__doc__
        return csrf_exempt(require_POST(wrapped))

    return decorate


@_daraja_view(reject_code=1)
def stk_callback(request, raw: str, data: dict, reference: str | None = None):
    """Daraja's answer to an STK push; our pushes name their payment's reference in the path."""
    outcome = services.payment_record_stk_callback(
        callback=parse_stk_callback(data), raw=raw, reference=reference
    )
    if outcome.rejected:
        raise BadRequest(outcome.reason, code="rejected")
    return JsonResponse({"ResultCode": 0, "ResultDesc": "Accepted"})


@_daraja_view(reject_code="C2B00016")
def c2b_validate(request, raw: str, data: dict):
    """Daraja asks whether to accept a paybill payment (only with External Validation on)."""
    code, desc = services.payment_validate_c2b(notice=parse_c2b(data))
    return JsonResponse({"ResultCode": code, "ResultDesc": desc})


@_daraja_view(reject_code="C2B00016")
def c2b_confirm(request, raw: str, data: dict):
    """Daraja reports a paybill payment that has happened."""
    outcome = services.payment_record_c2b(notice=parse_c2b(data), raw=raw)
    if outcome.rejected:
        raise BadRequest(outcome.reason, code="rejected")
    return JsonResponse({"ResultCode": 0, "ResultDesc": "Success"})


# --- Stripe ----------------------------------------------------------------------------


@csrf_exempt
@require_POST
@json_view
def stripe_webhook(request):
    """Stripe events, verified by signature and handled once per event id."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        raise BadRequest("Stripe is not configured here.", status=404, code="not_configured")
    # Checkout sessions run to several kilobytes: a larger bound than Daraja's.
    raw = read_body(request, settings.REQUEST_MAX_BYTES * 4)
    try:
        # Only the signature: the body is parsed here, as construct_event crashes on a
        # signed body that is JSON but not an object.
        stripe.WebhookSignature.verify_header(
            raw.decode("utf-8", errors="replace"),
            request.headers.get("Stripe-Signature", ""),
            settings.STRIPE_WEBHOOK_SECRET,
            settings.STRIPE_WEBHOOK_TOLERANCE,
        )
    except stripe.SignatureVerificationError as exc:
        raise BadRequest(
            f"Signature check failed: {exc.user_message or exc}", code="bad_signature"
        ) from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadRequest("The body is not JSON.", code="malformed_json") from None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("id"), str)
        and 0 < len(data["id"]) <= 255
        and isinstance(data.get("type"), str)
        and len(data["type"]) <= 100
        and isinstance(data.get("data"), dict)
        and isinstance(data["data"].get("object"), dict)
    ):
        raise BadRequest("The event needs an id, a type and a data.object.", code="invalid_event")
    outcome = services.payment_record_stripe_event(
        event=data, raw=raw.decode("utf-8", errors="replace")
    )
    return JsonResponse({"received": True, "result": outcome.result})
