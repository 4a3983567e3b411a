"""Commissions: recorded with their cause, disbursed hourly by a set-based sweep."""

from decimal import ROUND_DOWN, Decimal

from django.utils import timezone

from apps.accounts.models import Member
from apps.commissions.models import CommissionLedger, CommissionRate
from apps.common.money import CENT
from apps.wallets.balances import Sweep

DISBURSEMENT = Sweep(
    name="commissions.disburse",
    table="commissions_commissionledger",
    member_column="beneficiary_id",
    source=CommissionLedger.Status.PENDING,
    target=CommissionLedger.Status.PROCESSED,
    stamp="processed_at",
    order_by="id",
    pending_sign=0,
)


def commission_amount(base: Decimal, rate: Decimal) -> Decimal:
    """base x rate, rounded down to the cent: never more than the rate."""
    return (base * rate).quantize(CENT, rounding=ROUND_DOWN)


def rates_active() -> dict[int, Decimal]:
    """Level -> rate, for the levels that pay."""
    rows = CommissionRate.objects.filter(is_active=True, rate__gt=0)
    return dict(rows.values_list("level", "rate"))


def upline_of(member_id: int, levels: int) -> list[int]:
    """The member's referrers, nearest first, at most ``levels`` of them."""
    chain, current = [], member_id
    for _ in range(levels):
        current = Member.objects.filter(pk=current).values_list("referred_by_id", flat=True)[0]
        if current is None or current == member_id or current in chain:
            break  # the top of the tree (or a cycle, which Member.clean refuses)
        chain.append(current)
    return chain


def commissions_record(
    *, source_member_id: int, source_kind: str, source_id: str, base: Decimal
) -> list[CommissionLedger]:
    """One PENDING row per paying upline level, for a cause that just happened. Call it in
    the cause's transaction. A second call for the same cause writes nothing (the database
    refuses a second row per source and level); a level whose amount rounds to zero is
    skipped."""
    rates = rates_active()
    if not rates:
        return []
    now = timezone.now()
    rows = []
    for level, beneficiary in enumerate(upline_of(source_member_id, max(rates)), start=1):
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
