"""Reads of the payments domain."""

import uuid

from django.db.models import Count, QuerySet, Sum

from apps.common.money import cents
from apps.payments.models import Package, Payment


def package_list_on_sale() -> QuerySet[Package]:
    return Package.objects.filter(is_active=True)


def payment_get(*, payment_id: uuid.UUID) -> Payment | None:
    return Payment.objects.select_related("package", "subscription").filter(pk=payment_id).first()


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
    }
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
