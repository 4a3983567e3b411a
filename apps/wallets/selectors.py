"""Reads of the wallets domain."""

from datetime import datetime

from django.db.models import Count, Q, Sum

from apps.common.money import cents
from apps.wallets.models import Earning, SweepChunk, SweepCredit, Wallet


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


def sweep_runs_untold(*, sweep: str, run: str, before: datetime) -> list[str]:
    """Runs of ``sweep`` that credited what no digest told yet: ``run`` itself, and any
    other that did so before ``before``."""
    which = Q(sweep=sweep) & (Q(run=run) | Q(created_at__lt=before))
    chunks = SweepChunk.objects.filter(which).values_list("run", flat=True)
    credits = SweepCredit.objects.filter(which, notified_at__isnull=True)
    runs = set(chunks.order_by().distinct())
    runs |= set(credits.values_list("run", flat=True).order_by().distinct())
    return sorted(runs)
