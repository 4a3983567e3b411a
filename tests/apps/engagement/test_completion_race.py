"""Ten members' apps completing one assignment at the same moment, over HTTP to the live
server (one thread per request there too): the reward and the upline's commissions once."""

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from apps.accounts.tokens import token_issue
from apps.commissions.models import CommissionLedger, CommissionRate
from apps.engagement.models import Activity, Assignment
from apps.wallets.models import Earning, Wallet
from tests.support.factories import MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)

RATES = {1: Decimal("0.10"), 2: Decimal("0.05"), 3: Decimal("0.02")}


def test_ten_concurrent_completions_credit_once(live_server):
    for level, rate in RATES.items():  # a transactional test starts without the seeded rates
        CommissionRate.objects.update_or_create(level=level, defaults={"rate": rate})
    top = MemberFactory()
    middle = MemberFactory(referred_by=top)
    near = MemberFactory(referred_by=middle)
    member = MemberFactory(referred_by=near)
    activity = Activity.objects.create(title="Survey", kind="survey", reward=Decimal("40.00"))
    assignment = Assignment.objects.create(
        member=member, activity=activity, day=timezone.localdate()
    )
    url = f"{live_server.url}/api/assignments/{assignment.pk}/complete/"
    headers = {"Authorization": f"Bearer {token_issue(member)}"}
    start = threading.Barrier(10)

    def complete(_):
        with requests.Session() as session:
            session.get(f"{live_server.url}/api/wallet/", headers=headers, timeout=30)  # connected
            start.wait(timeout=30)
            response = session.post(url, headers=headers, timeout=30)
            return response.status_code, response.json()

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(complete, range(10)))

    statuses = sorted(status for status, _ in answers)
    assert statuses == [202] + [409] * 9, answers
    assert all(body["error"]["code"] == "completed" for status, body in answers if status == 409)
    [earning] = Earning.objects.all()
    assert (earning.member_id, earning.amount) == (member.pk, Decimal("40.00"))
    rows = CommissionLedger.objects.order_by("level")
    assert [(r.beneficiary_id, r.level, r.amount) for r in rows] == [
        (near.pk, 1, Decimal("4.00")),
        (middle.pk, 2, Decimal("2.00")),
        (top.pk, 3, Decimal("0.80")),
    ]
    wallet = Wallet.objects.get(member=member)
    assert (wallet.pending, wallet.withdrawable) == (Decimal("40.00"), Decimal("0.00"))
    assert Assignment.objects.get(pk=assignment.pk).status == "completed"
