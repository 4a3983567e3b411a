"""Writes of the payments domain, one module per sub-domain:

- ``purchases``: a PENDING payment for a package; packages seeded.
- ``stk``: the STK push and Daraja's callback to it.
- ``c2b``: paybill validation and confirmation.
- ``stripe_events``: Stripe webhook events (not ``stripe``, which would read as the library).
- ``stripe_checkout``: the Checkout Session a Stripe purchase pays on.
- ``suspense``: money that settles nothing, kept until applied to a payment or refunded.
- ``fulfilment``: PAID -> FULFILLED, the hand-off to provisioning and commissions.
- ``reconciliation``: the minute sweep and the STK query.
- ``receipts``: a fulfilled payment's numbered receipt PDF (the documents queue).
- ``transitions``: the conditional UPDATEs every sub-domain shares, the result types and
  the admin-event payloads; it imports none of the others.

Callers import from here: ``from apps.payments.services import payment_fulfil``.
"""

from apps.payments.services.c2b import payment_record_c2b, payment_validate_c2b
from apps.payments.services.fulfilment import payment_fulfil, payment_fulfil_failed
from apps.payments.services.purchases import (
    REFERENCE_ALPHABET,
    PurchaseRouterError,
    normalize_reference,
    package_seed,
    purchase_create,
)
from apps.payments.services.receipts import (
    receipt_make,
    receipt_make_for_event,
    receipts_enqueue,
    receipts_enqueue_missing,
    receipts_make,
)
from apps.payments.services.reconciliation import (
    QueryResult,
    payments_reconcile,
    stk_request_settle_by_query,
)
from apps.payments.services.stk import (
    payment_record_stk_callback,
    payment_request_stk_push,
    stk_callback_url,
)
from apps.payments.services.stripe_checkout import (
    StripeRefused,
    StripeUnavailable,
    checkout_session_create,
)
from apps.payments.services.stripe_events import STRIPE_PAID_EVENTS, payment_record_stripe_event
from apps.payments.services.suspense import (
    payment_pay_by_receipt,
    suspense_apply,
    suspense_apply_as_purchase,
    suspense_hold,
    suspense_mark_refunded,
)
from apps.payments.services.transitions import (
    CANCELLED_BY_USER,
    CallbackResult,
    Outcome,
    payment_fail,
    payment_mark_paid,
    rejected,
)

__all__ = [
    "CANCELLED_BY_USER",
    "REFERENCE_ALPHABET",
    "STRIPE_PAID_EVENTS",
    "CallbackResult",
    "Outcome",
    "PurchaseRouterError",
    "QueryResult",
    "StripeRefused",
    "StripeUnavailable",
    "checkout_session_create",
    "normalize_reference",
    "package_seed",
    "payment_fail",
    "payment_fulfil",
    "payment_fulfil_failed",
    "payment_mark_paid",
    "payment_pay_by_receipt",
    "payment_record_c2b",
    "payment_record_stk_callback",
    "payment_record_stripe_event",
    "payment_request_stk_push",
    "payment_validate_c2b",
    "payments_reconcile",
    "purchase_create",
    "receipt_make",
    "receipt_make_for_event",
    "receipts_enqueue",
    "receipts_enqueue_missing",
    "receipts_make",
    "rejected",
    "stk_callback_url",
    "stk_request_settle_by_query",
    "suspense_apply",
    "suspense_apply_as_purchase",
    "suspense_hold",
    "suspense_mark_refunded",
]
