"""Stripe Checkout: the hosted card page a ``method=stripe`` purchase pays on.

The session is created in the purchase request, not in a task: the portal must send the
buyer to its URL at once, and Stripe answers in well under a second. The wait is bounded
(STRIPE_TIMEOUT, STRIPE_MAX_NETWORK_RETRIES; the retry carries the same idempotency key, so
Stripe never makes two sessions for one payment). When Stripe cannot be reached or refuses,
the payment is failed at once (no dangling PENDING payment) and the caller answers 503 or
502. Amounts go in minor units: KES has two decimals at Stripe, so KES 50 is 5000.
"""

import logging
from datetime import UTC, datetime, timedelta
from functools import cache

import stripe
from django.conf import settings
from django.utils import timezone

from apps.common.errors import ApplicationError, TransientError
from apps.payments.models import CheckoutSession, Payment
from apps.payments.services.transitions import payment_fail

log = logging.getLogger("conveyor.payments")

# Stripe lets a session live from 30 minutes to 24 hours; a minute over the floor absorbs
# clock skew. Past PAYMENT_EXPIRE_AFTER the reconciler fails the payment, and a late card
# payment lands in Suspense: kept, not lost.
SESSION_LIFETIME_BOUNDS = (31 * 60, 24 * 60 * 60)


class StripeUnavailable(TransientError):
    """Stripe did not answer, answered 5xx, or asked us to slow down."""


class StripeRefused(ApplicationError):
    """Stripe refused the request (a bad key, an amount or currency it does not take)."""


@cache
def _client(api_key: str, api_base: str, timeout: float, retries: int) -> stripe.StripeClient:
    # One client per configuration and process: it keeps its connection pool.
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=retries,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def stripe_client() -> stripe.StripeClient:
    return _client(
        settings.STRIPE_SECRET_KEY,
        settings.STRIPE_API_BASE.rstrip("/"),
        settings.STRIPE_TIMEOUT,
        settings.STRIPE_MAX_NETWORK_RETRIES,
    )


def checkout_session_create(*, payment: Payment) -> CheckoutSession:
    """Create the payment's Checkout Session at Stripe and keep it; on failure the payment
    is failed and StripeUnavailable or StripeRefused is raised."""
    low, high = SESSION_LIFETIME_BOUNDS
    lifetime = min(max(settings.PAYMENT_EXPIRE_AFTER, low), high)
    params = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": payment.currency.lower(),
                    "unit_amount": int(payment.amount * 100),
                    "product_data": {"name": payment.package.name},
                },
            }
        ],
        "client_reference_id": str(payment.pk),
        "metadata": {"payment_id": str(payment.pk), "reference": payment.reference},
        # Copied onto the PaymentIntent, so its events (and its charge's) name the payment.
        "payment_intent_data": {"metadata": {"payment_id": str(payment.pk)}},
        "success_url": settings.STRIPE_SUCCESS_URL,
        "cancel_url": settings.STRIPE_CANCEL_URL,
        "expires_at": int((timezone.now() + timedelta(seconds=lifetime)).timestamp()),
    }
    try:
        session = stripe_client().v1.checkout.sessions.create(
            params, {"idempotency_key": f"checkout-{payment.pk}"}
        )
    except (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError) as exc:
        _fail(payment, "stripe_unavailable", exc)
        raise StripeUnavailable("Stripe is not answering; try again shortly.") from exc
    except stripe.StripeError as exc:
        _fail(payment, "stripe_refused", exc)
        raise StripeRefused(f"Stripe refused the checkout: {exc.user_message or exc}") from exc
    expires_at = getattr(session, "expires_at", None)
    checkout = CheckoutSession.objects.create(
        payment=payment,
        session_id=session.id,
        url=session.url,
        expires_at=datetime.fromtimestamp(expires_at, UTC) if expires_at else None,
    )
    log.info("payment.checkout_created id=%s session=%s", payment.pk, session.id)
    return checkout


def _fail(payment: Payment, code: str, exc: stripe.StripeError) -> None:
    log.warning("payment.checkout_failed id=%s error=%r", payment.pk, exc)
    payment_fail(payment_id=payment.pk, code=code, desc=f"No Checkout Session: {exc}")
