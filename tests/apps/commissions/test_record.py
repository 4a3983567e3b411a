"""Commissions are written with their cause: one row per paying upline level, rounded down,
never twice."""

from decimal import Decimal

import pytest

from apps.commissions.models import CommissionLedger, CommissionRate
from apps.commissions.services import commission_amount, commissions_record
from apps.payments.services import payment_fulfil
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db


def chain(length: int) -> list:
    """Members m0 <- m1 <- ... (each referred by the one before); the last one first."""
    members = [MemberFactory()]
    for _ in range(length - 1):
        members.append(MemberFactory(referred_by=members[-1]))
    return members[::-1]


def test_amounts_round_down_to_the_cent():
    assert commission_amount(Decimal("9.99"), Decimal("0.05")) == Decimal("0.49")
    assert commission_amount(Decimal("5.70"), Decimal("0.10")) == Decimal("0.57")
    assert commission_amount(Decimal("0.09"), Decimal("0.10")) == Decimal("0.00")


def test_one_row_per_upline_level_at_the_default_rates():
    buyer, up1, up2, up3, up4 = chain(5)
    rows = commissions_record(
        source_member_id=buyer.pk, source_kind="assignment", source_id="7", base=Decimal("100")
    )
    got = [(r.beneficiary_id, r.level, r.amount) for r in rows]
    assert got == [
        (up1.pk, 1, Decimal("10.00")),
        (up2.pk, 2, Decimal("5.00")),
        (up3.pk, 3, Decimal("2.00")),
    ]
    assert up4.pk not in CommissionLedger.objects.values_list("beneficiary_id", flat=True)


def test_recording_a_cause_twice_writes_nothing_more():
    buyer, *_ = chain(3)
    for _ in range(2):
        commissions_record(
            source_member_id=buyer.pk, source_kind="assignment", source_id="9", base=Decimal("10")
        )
    assert CommissionLedger.objects.count() == 2


def test_levels_that_pay_nothing_are_skipped():
    CommissionRate.objects.filter(level=2).update(is_active=False)
    buyer, up1, _, up3 = chain(4)
    commissions_record(
        source_member_id=buyer.pk, source_kind="assignment", source_id="1", base=Decimal("0.30")
    )
    # Level 1 pays 0.03; level 2 is off; level 3's 2% of 0.30 rounds down to nothing.
    assert list(CommissionLedger.objects.values_list("beneficiary_id", "amount")) == [
        (up1.pk, Decimal("0.03"))
    ]
    assert up3.pk  # the chain was long enough: the skip is the rounding, not the tree


def test_a_fulfilled_purchase_pays_the_buyers_upline_in_the_same_transaction(paid):
    payment, buyer = paid(phone="254711000111")
    upline = MemberFactory()
    buyer.referred_by = upline
    buyer.save()
    assert payment_fulfil(payment_id=payment.pk)
    row = CommissionLedger.objects.get()
    assert (row.beneficiary_id, row.source_kind, row.source_id) == (
        upline.pk,
        "purchase",
        str(payment.pk),
    )
    assert row.amount == (payment.amount * Decimal("0.10")).quantize(Decimal("0.01"))
    assert not payment_fulfil(payment_id=payment.pk)  # fulfilled once, paid once
    assert CommissionLedger.objects.count() == 1
