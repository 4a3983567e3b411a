"""Reads of the wallets domain."""

from django.db.models import Count, Sum

from apps.common.money import cents
from apps.wallets.models import Earning


def earnings_summary(*, since, until) -> dict:
    """Earnings matured in [since, until) and their total."""
    done = Earning.objects.filter(matured_at__gte=since, matured_at__lt=until).aggregate(
        n=Count("pk"), total=Sum("amount")
    )
    return {"matured": done["n"], "matured_total": cents(done["total"])}
