"""Reads of the provisioning domain."""

from datetime import datetime

from django.db.models import Count, F

from apps.common.db import first_match
from apps.provisioning.models import Router, Subscription

Status = Subscription.Status
LIVE = (Status.PENDING, Status.PROVISIONED, Status.FAILED)


def subscriptions_summary(*, since, until) -> dict[str, int]:
    """Subscriptions that changed in [since, until), by their status now."""
    rows = Subscription.objects.filter(updated_at__gte=since, updated_at__lt=until)
    return dict(rows.values_list("status").annotate(n=Count("pk")).order_by())


def subscription_get(*, subscription_id: int) -> Subscription | None:
    """The subscription with its router and package, and its payment's ``payment_reference``
    (one column, not the whole payment: building models and compiling joins is most of such a
    read, profiled), or None if it is gone: what its router jobs need."""
    return _with_reference("router", "package", subscription_id=subscription_id)


def subscription_get_for_notice(*, subscription_id: int) -> Subscription | None:
    """The subscription with its package and member (the buyer, who is texted), and its
    ``payment_reference``; no router. None if it is gone."""
    return _with_reference("member", "package", subscription_id=subscription_id)


def _with_reference(*related: str, subscription_id: int) -> Subscription | None:
    rows = Subscription.objects.select_related(*related)
    rows = rows.annotate(payment_reference=F("payment__reference"))
    return first_match(rows.filter(pk=subscription_id))


def subscription_for_payment(*, payment) -> Subscription | None:
    return first_match(Subscription.objects.filter(payment=payment))


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


def router_find_active(*, key: str) -> Router | None:
    """The active router named ``key``, or else whose identity is ``key`` (the hotspot login
    page's $(identity))."""
    active = Router.objects.filter(is_active=True)
    return active.filter(name=key).first() or active.filter(identity=key).first()


def router_sole_active() -> Router | None:
    """The active router when there is exactly one; None when there are none or several."""
    active = list(Router.objects.filter(is_active=True).order_by("pk")[:2])
    return active[0] if len(active) == 1 else None


def router_active_exists() -> bool:
    return Router.objects.filter(is_active=True).exists()


def router_ids_active() -> list[int]:
    return list(Router.objects.filter(is_active=True).values_list("pk", flat=True))
