"""Reads of the payments domain."""

import json
import uuid
from collections.abc import Iterator

from django.core.files import File
from django.core.files.storage import default_storage
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.urls import reverse

from apps.common.db import first_match
from apps.common.money import cents
from apps.payments.models import CheckoutSession, Package, Payment, Receipt, StkRequest, Suspense


def package_list_on_sale(*, router_id: int | None = None) -> QuerySet[Package]:
    """Packages on sale; with ``router_id``, those sold on that router (a package limited to
    no router is sold on every one)."""
    packages = Package.objects.filter(is_active=True)
    if router_id is None:
        return packages
    return packages.filter(Q(routers=None) | Q(routers=router_id)).distinct()


def package_get_on_sale(*, code: str) -> Package | None:
    """The package, with ``sold_on_some``: whether it is limited to some routers."""
    limited = Package.routers.through.objects.filter(package_id=OuterRef("pk"))
    packages = package_list_on_sale().annotate(sold_on_some=Exists(limited))
    return first_match(packages.filter(code=code))


def package_get_cheapest_on_sale() -> Package | None:
    return package_list_on_sale().order_by("price").first()


def payment_get(*, payment_id: uuid.UUID | str) -> Payment | None:
    payments = Payment.objects.select_related("package", "subscription", "receipt")
    return first_match(payments.filter(pk=payment_id))


def payment_get_for_receipt(*, payment_id: uuid.UUID | str) -> Payment | None:
    """The payment with its package and its receipt, if it has one: what a receipt is drawn
    from, and no more (a join less than payment_get's, profiled on the documents queue)."""
    payments = Payment.objects.select_related("package", "receipt")
    return first_match(payments.filter(pk=payment_id))


def payment_get_for_push(*, payment_id: uuid.UUID | str) -> Payment | None:
    """The payment with its package and ``has_push``: whether a push was accepted for it."""
    pushed = StkRequest.objects.filter(payment_id=OuterRef("pk"))
    payments = Payment.objects.select_related("package").annotate(has_push=Exists(pushed))
    return first_match(payments.filter(pk=payment_id))


def payment_get_by_reference(*, reference: str) -> Payment | None:
    return Payment.objects.select_related("package").filter(reference=reference).first()


def payment_get_open(*, reference: str, method: str | None = None) -> Payment | None:
    """The PENDING payment with this reference (and method, if given)."""
    payments = Payment.objects.filter(reference=reference, status=Payment.Status.PENDING)
    if method is not None:
        payments = payments.filter(method=method)
    return payments.first()


def payment_status_counts(*, ids: list) -> dict[str, int]:
    """How many of these payments are in each status (every status, zero included)."""
    counts = dict(
        Payment.objects.filter(pk__in=ids)
        .order_by()
        .values("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {status: counts.get(status, 0) for status in Payment.Status.values}


def payment_fulfilment_seconds(*, ids: list) -> list[float]:
    """Purchase to FULFILLED, in seconds, for those of these payments that are fulfilled."""
    fulfilled = Payment.objects.filter(pk__in=ids, status=Payment.Status.FULFILLED)
    return [
        (p.fulfilled_at - p.created_at).total_seconds()
        for p in fulfilled.only("created_at", "fulfilled_at")
    ]


def receipt_paid_a_payment(*, receipt: str) -> bool:
    return Payment.objects.filter(mpesa_receipt=receipt).exists()


def receipt_is_recorded(*, receipt: str) -> bool:
    """The M-Pesa receipt paid a payment or is held in suspense: a replay, if it comes again."""
    return (
        receipt_paid_a_payment(receipt=receipt) or Suspense.objects.filter(receipt=receipt).exists()
    )


def suspense_phone(*, suspense: Suspense) -> str:
    """The payer's phone as far as we know it: the linked payment's, or the STK callback's
    PhoneNumber (a C2B MSISDN is masked, so a paybill row may have none)."""
    if suspense.payment_id:
        return suspense.payment.phone
    try:
        stk = json.loads(suspense.raw_callback)["Body"]["stkCallback"]
        items = stk["CallbackMetadata"]["Item"]
        phone = next(i.get("Value") for i in items if i.get("Name") == "PhoneNumber")
    except (ValueError, KeyError, TypeError, StopIteration):
        return ""
    return str(phone) if isinstance(phone, int | str) else ""


def payment_list_open_for_suspense(
    *, suspense: Suspense, reference: str, limit: int = 20
) -> list[Payment]:
    """Pending payments this money may be for: the one its (normalized) ``reference``, push
    or linked payment names, and the payer's other pending payments."""
    match = (
        Q(
            pk__in=StkRequest.objects.filter(
                checkout_request_id=suspense.checkout_request_id
            ).values("payment_id")
        )
        if suspense.checkout_request_id
        else Q(pk__in=[])
    )
    if reference:
        match |= Q(reference=reference)
    if suspense.payment_id:
        match |= Q(pk=suspense.payment_id)
    phone = suspense_phone(suspense=suspense)
    if phone:
        match |= Q(phone=phone)
    return list(
        Payment.objects.select_related("package")
        .filter(match, status=Payment.Status.PENDING)
        .order_by("-created_at")[:limit]
    )


def suspense_get(*, suspense_id: int) -> Suspense | None:
    return Suspense.objects.select_related("payment", "applied_to").filter(pk=suspense_id).first()


def stk_request_get(*, stk_request_id: int) -> StkRequest | None:
    return StkRequest.objects.select_related("payment").filter(pk=stk_request_id).first()


def stk_request_get_by_checkout(*, checkout_request_id: str) -> StkRequest | None:
    """The push Daraja knows by this CheckoutRequestID, with its payment and package."""
    return (
        StkRequest.objects.select_related("payment", "payment__package")
        .filter(checkout_request_id=checkout_request_id)
        .first()
    )


def stk_request_payment_id(*, checkout_request_id: str) -> uuid.UUID | None:
    """The payment a push belongs to, in one short query (the hot path of every callback)."""
    return first_match(
        StkRequest.objects.filter(checkout_request_id=checkout_request_id).values_list(
            "payment_id", flat=True
        )
    )


def checkout_url(*, payment_id: uuid.UUID | str) -> str | None:
    """Where the buyer pays a Stripe payment: its latest Checkout Session's page."""
    return (
        CheckoutSession.objects.filter(payment_id=payment_id).values_list("url", flat=True).first()
    )


def payment_get_by_stripe_reference(*, reference: str) -> Payment | None:
    """The payment Stripe's money (a PaymentIntent id) paid."""
    return Payment.objects.select_related("package").filter(stripe_reference=reference).first()


def checkout_session_payment_id(*, session_id: str) -> uuid.UUID | None:
    """The payment we created this Checkout Session for."""
    return (
        CheckoutSession.objects.filter(session_id=session_id)
        .values_list("payment_id", flat=True)
        .first()
    )


def payment_status_by_id(*, ids: list) -> dict:
    return dict(Payment.objects.filter(pk__in=ids).values_list("pk", "status"))


def payment_ids_fulfilled(*, ids: list) -> list:
    fulfilled = Payment.objects.filter(pk__in=ids, status=Payment.Status.FULFILLED)
    return list(fulfilled.values_list("pk", flat=True))


def payment_ids_lacking_receipt() -> Iterator[uuid.UUID]:
    """Fulfilled payments whose receipt is not drawn, oldest first: none was made (the join
    finds no receipt row) or its making never finished. Streamed: a catch-up may be large."""
    lacking = Payment.objects.filter(status=Payment.Status.FULFILLED, receipt__generated_at=None)
    return lacking.order_by("fulfilled_at").values_list("pk", flat=True).iterator(chunk_size=2000)


def receipt_get_ready(*, payment_id: uuid.UUID) -> Receipt | None:
    """The payment's receipt once its PDF is drawn."""
    return Receipt.objects.filter(payment_id=payment_id, generated_at__isnull=False).first()


def receipt_open(*, receipt: Receipt) -> File | None:
    """The receipt's PDF, open for reading; None if storage has lost it (log-worthy, not a 500)."""
    try:
        return default_storage.open(receipt.file, "rb")
    except FileNotFoundError:
        return None


def receipt_link(payment: Payment) -> dict | None:
    """The receipt's number and where to download it, once drawn; None before."""
    receipt = getattr(payment, "receipt", None)
    if receipt is None or receipt.generated_at is None:
        return None
    url = reverse("api:payment-receipt", kwargs={"payment_id": payment.pk})
    return {"number": receipt.number, "url": url}


def payment_state(payment: Payment) -> dict:
    """What the captive portal sees of a payment while it polls."""

    def stamp(value):
        return value.isoformat() if value else None

    state = {
        "payment_id": str(payment.pk),
        "status": payment.status,
        "reference": payment.reference,
        "package": payment.package.code,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "receipt": payment.mpesa_receipt,
        "reason": payment.result_desc if payment.status in ("failed", "cancelled") else None,
        "created_at": stamp(payment.created_at),
        "paid_at": stamp(payment.paid_at),
        "fulfilled_at": stamp(payment.fulfilled_at),
        "receipt_pdf": receipt_link(payment),
    }
    if payment.method == Payment.Method.STRIPE and payment.status == Payment.Status.PENDING:
        session = payment.checkout_sessions.order_by("-created_at").first()
        state["checkout_url"] = session.url if session else None  # where the buyer pays
    subscription = getattr(payment, "subscription", None)
    if subscription is not None:
        state["subscription"] = {
            "status": subscription.status,
            "expires_at": stamp(subscription.ends_at),
        }
        if subscription.status == subscription.Status.PROVISIONED:
            # What the captive portal shows once the access is really there, not before.
            state["subscription"].update(
                username=subscription.username, password=subscription.password
            )
    return state


def payments_summary(*, since, until) -> dict:
    """Payments fulfilled in [since, until) and their total; payments failed in it."""
    fulfilled = Payment.objects.filter(fulfilled_at__gte=since, fulfilled_at__lt=until).aggregate(
        n=Count("pk"), total=Sum("amount")
    )
    failed = Payment.objects.filter(
        status=Payment.Status.FAILED, updated_at__gte=since, updated_at__lt=until
    ).count()
    return {
        "fulfilled": fulfilled["n"],
        "fulfilled_total": cents(fulfilled["total"]),
        "failed": failed,
    }
