"""Reads of the commissions domain."""

from django.db.models import Count, Sum

from apps.commissions.models import CommissionLedger
from apps.common.money import cents


def commissions_summary(*, since, until) -> dict:
    """Commission rows disbursed in [since, until) and their total."""
    done = CommissionLedger.objects.filter(
        processed_at__gte=since, processed_at__lt=until
    ).aggregate(n=Count("pk"), total=Sum("amount"))
    return {"disbursed": done["n"], "disbursed_total": cents(done["total"])}
