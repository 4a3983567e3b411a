"""Reads of the wallets domain."""

from django.db.models import Count, Sum

from apps.common.money import cents
from apps.wallets.models import Earning, Wallet


def wallet_get(*, member_id: int) -> Wallet:
    """The member's wallet; an unsaved empty one if nothing was ever credited to them."""
    return Wallet.objects.filter(member_id=member_id).first() or Wallet(member_id=member_id)


def earning_exists(*, source_kind: str, source_id: str) -> bool:
    """Whether this cause was credited already (one earning per cause)."""
    return Earning.objects.filter(source_kind=source_kind, source_id=source_id).exists()


def earnings_summary(*, since, until) -> dict:
    """Earnings matured in [since, until) and their total."""
    done = Earning.objects.filter(matured_at__gte=since, matured_at__lt=until).aggregate(
        n=Count("pk"), total=Sum("amount")
    )
    return {"matured": done["n"], "matured_total": cents(done["total"])}
