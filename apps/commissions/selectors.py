"""Reads of the commissions domain."""

from decimal import Decimal

from django.db.models import Count, Sum

from apps.commissions.models import CommissionLedger, CommissionRate
from apps.common.money import cents


def commission_rates_active() -> dict[int, Decimal]:
    """Level -> rate, for the levels that pay."""
    rows = CommissionRate.objects.filter(is_active=True, rate__gt=0)
    return dict(rows.values_list("level", "rate"))


def commissions_summary(*, since, until) -> dict:
    """Commission rows disbursed in [since, until) and their total."""
    done = CommissionLedger.objects.filter(
        processed_at__gte=since, processed_at__lt=until
    ).aggregate(n=Count("pk"), total=Sum("amount"))
    return {"disbursed": done["n"], "disbursed_total": cents(done["total"])}
