"""Earnings: credited to pending with their cause, matured hourly by a set-based sweep."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.wallets.balances import Sweep, wallet_add
from apps.wallets.models import Earning

MATURATION = Sweep(
    name="maturation.mature",
    table="wallets_earning",
    member_column="member_id",
    source=Earning.Status.PENDING,
    target=Earning.Status.MATURED,
    stamp="matured_at",
    order_by="matures_at",
    pending_sign=-1,
    due="matures_at <= %(now)s",
)


def earning_record(
    *, member_id: int, amount: Decimal, source_kind: str, source_id: str, at: datetime
) -> Earning | None:
    """Credit ``amount`` to the member's pending balance, maturing MATURATION_HOURS after
    ``at``. Call it in the cause's transaction; None if this cause was credited already."""
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not spoil the caller's
            earning = Earning.objects.create(
                member_id=member_id,
                amount=amount,
                source_kind=source_kind,
                source_id=str(source_id),
                created_at=at,
                matures_at=at + timedelta(hours=settings.MATURATION_HOURS),
            )
    except IntegrityError:
        if Earning.objects.filter(source_kind=source_kind, source_id=str(source_id)).exists():
            return None
        raise  # not a duplicate: a bug, not to be swallowed
    wallet_add(member_id=member_id, pending=amount)
    return earning
