"""Earnings: credited to pending with their cause, matured hourly by a set-based sweep."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from apps.wallets.balances import wallet_add
from apps.wallets.ledger_sweep import LedgerSweep, LedgerSweepResult, ledger_sweep_run
from apps.wallets.models import Earning
from apps.wallets.selectors import earning_exists

MATURATION = LedgerSweep(
    name="maturation.mature",
    model=Earning,
    member="member",
    source=Earning.Status.PENDING,
    target=Earning.Status.MATURED,
    stamp="matured_at",
    order_by="matures_at",
    pending_sign=-1,
    due="matures_at",
)


def balances_mature(*, budget_seconds: float) -> LedgerSweepResult:
    """Due PENDING earnings become MATURED, their amounts moved from pending to withdrawable,
    in chunks for at most about ``budget_seconds`` (not finished: rows are left)."""
    return ledger_sweep_run(
        MATURATION, chunk_rows=settings.SWEEP_CHUNK_ROWS, budget_seconds=budget_seconds
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
        if earning_exists(source_kind=source_kind, source_id=str(source_id)):
            return None
        raise  # not a duplicate: a bug, not to be swallowed
    wallet_add(member_id=member_id, pending=amount)
    return earning
