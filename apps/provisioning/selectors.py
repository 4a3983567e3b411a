"""Reads of the provisioning domain."""

from django.db.models import Count

from apps.provisioning.models import Subscription


def subscriptions_summary(*, since, until) -> dict[str, int]:
    """Subscriptions that changed in [since, until), by their status now."""
    rows = Subscription.objects.filter(updated_at__gte=since, updated_at__lt=until)
    return dict(rows.values_list("status").annotate(n=Count("pk")).order_by())
