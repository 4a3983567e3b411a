"""Reads of the provisioning domain."""

from datetime import datetime

from django.db.models import Count

from apps.provisioning.models import Router, Subscription

Status = Subscription.Status
LIVE = (Status.PENDING, Status.PROVISIONED, Status.FAILED)


def subscriptions_summary(*, since, until) -> dict[str, int]:
    """Subscriptions that changed in [since, until), by their status now."""
    rows = Subscription.objects.filter(updated_at__gte=since, updated_at__lt=until)
    return dict(rows.values_list("status").annotate(n=Count("pk")).order_by())


def subscription_get(*, subscription_id: int) -> Subscription | None:
    """The subscription with its router, package and member, or None if it is gone."""
    rows = Subscription.objects.select_related("router", "package", "member")
    return rows.filter(pk=subscription_id).first()


def subscription_for_payment(*, payment) -> Subscription | None:
    return Subscription.objects.filter(payment=payment).first()


def subscription_ids_stuck(*, before: datetime, now: datetime, limit: int) -> list[int]:
    """Live subscriptions still PENDING, untouched since ``before``: their router job was lost."""
    rows = Subscription.objects.filter(
        status=Status.PENDING, created_at__lt=before, updated_at__lt=before, ends_at__gt=now
    )
    return list(rows.values_list("pk", flat=True)[:limit])


def subscription_ids_due(*, now: datetime, limit: int) -> list[int]:
    """Live subscriptions past their end (the partial index subscription_live_idx)."""
    rows = Subscription.objects.filter(ends_at__lte=now, status__in=LIVE)
    return list(rows.values_list("pk", flat=True)[:limit])


def router_get(*, router_id: int) -> Router | None:
    return Router.objects.filter(pk=router_id).first()


def router_for_new_subscription() -> Router | None:
    """The active router new subscriptions go to: the oldest one."""
    return Router.objects.filter(is_active=True).order_by("pk").first()


def router_ids_active() -> list[int]:
    return list(Router.objects.filter(is_active=True).values_list("pk", flat=True))
