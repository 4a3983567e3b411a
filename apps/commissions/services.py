"""Commissions: recorded with their cause, disbursed hourly by a set-based sweep."""

from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils import timezone

from apps.accounts.selectors import member_upline
from apps.commissions.models import CommissionLedger, CommissionRate
from apps.commissions.selectors import commission_rates_active
from apps.common.money import CENT
from apps.notifications.services import broadcast_check
from apps.ops.models import AdminEvent
from apps.ops.services import event_emit
from apps.wallets.ledger_sweep import LedgerSweep
from apps.wallets.services import sweep_advance

DISBURSEMENT = LedgerSweep(
    name="commissions.disburse",
    model=CommissionLedger,
    member="beneficiary",
    source=CommissionLedger.Status.PENDING,
    target=CommissionLedger.Status.PROCESSED,
    stamp="processed_at",
    order_by="id",
    pending_sign=0,
)


def commissions_disburse(*, run: str, budget_seconds: float) -> tuple[dict | None, int]:
    """PENDING commissions become PROCESSED, credited to withdrawable balances, in chunks
    for at most about ``budget_seconds``: as apps.wallets.services.sweep_advance."""
    return sweep_advance(DISBURSEMENT, run=run, budget_seconds=budget_seconds)


def commission_amount(base: Decimal, rate: Decimal) -> Decimal:
    """base x rate, rounded down to the cent: never more than the rate."""
    return (base * rate).quantize(CENT, rounding=ROUND_DOWN)


def commissions_record(
    *, source_member_id: int, source_kind: str, source_id: str, base: Decimal
) -> list[CommissionLedger]:
    """One PENDING row per paying upline level, for a cause that just happened. Call it in
    the cause's transaction. A second call for the same cause writes nothing (the database
    refuses a second row per source and level); a level whose amount rounds to zero is
    skipped."""
    rates = commission_rates_active()
    if not rates:
        return []
    now = timezone.now()
    upline = member_upline(member_id=source_member_id, levels=max(rates))
    rows = []
    for level, beneficiary in enumerate(upline, start=1):
        amount = commission_amount(base, rates.get(level, Decimal(0)))
        if amount > 0:
            rows.append(
                CommissionLedger(
                    beneficiary_id=beneficiary,
                    source_member_id=source_member_id,
                    source_kind=source_kind,
                    source_id=str(source_id),
                    level=level,
                    rate=rates[level],
                    base_amount=base,
                    amount=amount,
                    created_at=now,
                )
            )
    return CommissionLedger.objects.bulk_create(rows, ignore_conflicts=True)


def commission_rate_save(*, rate: CommissionRate) -> bool:
    """Save a rate staff edited; when its percentage changed, the commission_rate_changed
    event tells every active member (its listener broadcasts, in chunks, on the notifications
    queue). True if they are told."""
    with transaction.atomic():
        before = CommissionRate.objects.select_for_update().filter(pk=rate.pk).first()
        rate.full_clean()
        rate.save()
        old = before.rate if before is not None else None
        if old == rate.rate or not rate.is_active:
            return False
        old_text = "0" if old is None else _percent(old)
        context = {"level": rate.level, "old_rate": old_text, "new_rate": _percent(rate.rate)}
        kind = AdminEvent.Type.COMMISSION_RATE_CHANGED
        broadcast_check(kind=kind, context=context)  # a bad template fails the save, not later
        event_emit(
            type=kind,
            payload={
                "kind": kind,
                "context": context,
                "title": f"Level {rate.level} rate: {old_text}% to {_percent(rate.rate)}%",
            },
        )
    return True


def _percent(rate: Decimal) -> str:
    return f"{rate * 100:.2f}".rstrip("0").rstrip(".")
