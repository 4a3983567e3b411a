"""audit_ledger: passes on an honest ledger, exits 1 naming what does not add up."""

import contextlib
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from apps.commissions.models import CommissionLedger
from apps.commissions.services import DISBURSEMENT, commissions_record
from apps.wallets.ledger_sweep import ledger_sweep_run
from apps.wallets.models import Wallet
from apps.wallets.services import earning_record
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger():
    upline = MemberFactory()
    member = MemberFactory(referred_by=upline)
    for n in range(3):
        earning_record(
            member_id=member.pk,
            amount=Decimal("3.33"),
            source_kind="assignment",
            source_id=n,
            at=timezone.now(),
        )
        commissions_record(
            source_member_id=member.pk, source_kind="assignment", source_id=n, base=Decimal("3.33")
        )
    ledger_sweep_run(DISBURSEMENT, chunk_rows=10, budget_seconds=10)
    return member, upline


def audit(*args) -> str:
    out = StringIO()
    call_command("audit_ledger", *args, stdout=out)
    return out.getvalue()


def test_an_honest_ledger_passes(ledger):
    text = audit()
    assert "MISMATCH" not in text and "found" not in text
    assert "earnings pending       9.99" in text
    assert "commissions processed  0.99" in text


def test_a_wallet_changed_by_hand_fails(ledger):
    member, _ = ledger
    Wallet.objects.filter(member=member).update(pending=Decimal("10.00"))
    with pytest.raises(CommandError) as failure:
        audit()
    assert failure.value.returncode == 1


def test_a_row_credited_twice_fails(ledger):
    _, upline = ledger
    # What a racing second UPDATE would do: credit a processed row's amount again.
    Wallet.objects.filter(member=upline).update(withdrawable=Decimal("1.32"))
    with pytest.raises(CommandError):
        audit("--json")


def test_a_commission_above_its_rate_fails(ledger):
    row = (
        CommissionLedger.objects.filter(status="pending").first()
        or CommissionLedger.objects.first()
    )
    CommissionLedger.objects.filter(pk=row.pk).update(amount=row.amount + Decimal("0.01"))
    Wallet.objects.filter(member=row.beneficiary).update(
        withdrawable=Wallet.objects.get(member=row.beneficiary).withdrawable + Decimal("0.01")
    )  # the wallet agrees with the row: only the rate check can catch it
    with pytest.raises(CommandError):
        audit()
    assert "commissions not base x rate rounded down" in audit_text()


def audit_text() -> str:
    out = StringIO()
    with contextlib.suppress(CommandError):
        call_command("audit_ledger", stdout=out)
    return out.getvalue()
