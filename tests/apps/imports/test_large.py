"""100,000 members through a real documents worker: a referral forest in shuffled order (half
the members come before their uplines), one chain 300 deep (its rows past the deepest the
rules allow are refused), phones in every Kenyan spelling; the uplines and balances are the
file's, and audit_ledger holds."""

import time

import pytest

from apps.accounts.models import MAX_UPLINE_DEPTH, Member
from apps.commissions.audit import ledger_audit
from apps.wallets.models import Wallet
from devstack.members_file import members_csv, members_rows
from tests.apps.imports.conftest import finished, report_rows, start

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COUNT = 100_000


def test_100000_members_with_a_deep_tree_import_with_the_ledger_holding(documents_worker, tmp_path):
    planned = members_rows(COUNT, deep=(300,))
    row_of = {p.phone: number for number, p in enumerate(planned, 2)}
    later = sum(1 for p in planned if p.upline and row_of[p.upline] > row_of[p.phone])
    assert later > 0.4 * COUNT  # uplines after their referrals, as often as before
    path = members_csv(tmp_path / "members.csv", planned)

    began = time.monotonic()
    imp = finished(start(path), timeout=240)
    took = time.monotonic() - began
    print(f"\n{COUNT} members imported in {took:.1f} s ({COUNT / took:.0f} rows/s)")

    kept = [p for p in planned if p.depth <= MAX_UPLINE_DEPTH]
    assert imp.state == "done", imp.error
    assert (imp.total, imp.created, imp.refused) == (COUNT, len(kept), COUNT - len(kept))
    assert dict(Member.objects.values_list("phone", "referred_by__phone")) == {
        p.phone: p.upline for p in kept
    }
    assert {
        phone: (pending, withdrawable)
        for phone, pending, withdrawable in Wallet.objects.values_list(
            "member__phone", "pending", "withdrawable"
        )
    } == {p.phone: (p.pending, p.withdrawable) for p in kept if p.pending or p.withdrawable}
    deep = sorted((row_of[p.phone], p) for p in planned if p.depth > MAX_UPLINE_DEPTH)
    reasons = {
        p.depth: f"would have more than {MAX_UPLINE_DEPTH} uplines above it (row "
        f"{row_of[p.upline]} has {MAX_UPLINE_DEPTH})"
        if p.depth == MAX_UPLINE_DEPTH + 1
        else f"its upline (row {row_of[p.upline]}) was refused"
        for _, p in deep
    }
    assert report_rows(imp) == [(row, "upline_phone", reasons[p.depth]) for row, p in deep]
    assert ledger_audit().ok
