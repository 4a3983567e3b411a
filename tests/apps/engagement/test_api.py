"""Members' API: sign in, today's assignments, complete one (202), wallet; and every refusal."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from apps.accounts.tokens import token_issue
from apps.commissions.models import CommissionLedger
from apps.engagement.models import Activity, Assignment
from apps.wallets.models import Earning, Wallet
from tests.support.factories import MemberFactory

PASSWORD = "a-long-member-password"


@pytest.fixture
def member(db):
    upline = MemberFactory()
    member = MemberFactory(referred_by=upline)
    member.set_password(PASSWORD)
    member.save()
    return member


@pytest.fixture
def assignment(member) -> Assignment:
    activity = Activity.objects.create(title="Watch", kind="video", reward=Decimal("12.50"))
    return Assignment.objects.create(member=member, activity=activity, day=timezone.localdate())


def auth(member) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token_issue(member)}"}


def complete(client, assignment, **headers):
    return client.post(f"/api/assignments/{assignment.pk}/complete/", **headers)


def test_sign_in_gives_a_token_that_opens_the_api(client, member):
    body = {"phone": "0" + member.phone[3:], "password": PASSWORD}
    response = client.post("/api/auth/token/", json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    token = response.json()["token"]
    wallet = client.get("/api/wallet/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert wallet.json() == {"currency": "KES", "pending": "0.00", "withdrawable": "0.00"}


@pytest.mark.parametrize(
    "body",
    [
        lambda member: {"phone": member.phone, "password": "wrong"},  # a member, wrong password
        lambda member: {"phone": "0799999999", "password": PASSWORD},  # nobody's phone
    ],
)
def test_wrong_credentials_are_401_alike(client, member, body):
    body = body(member)
    response = client.post("/api/auth/token/", json.dumps(body), content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    "raw",
    [b"{", b"[]", b'{"phone": 712345678, "password": "x"}', b'{"phone": "x1", "password": "p"}'],
)
def test_bad_sign_in_bodies_are_400(client, db, raw):
    response = client.post("/api/auth/token/", raw, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "header", [None, "Bearer ", "Bearer not-a-token", "Basic abc", "Bearer a:b:c"]
)
def test_without_a_valid_token_everything_is_401(client, assignment, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    for response in (
        client.get("/api/assignments/", **extra),
        complete(client, assignment, **extra),
        client.get("/api/wallet/", **extra),
    ):
        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert assignment.status == "assigned" and not Earning.objects.exists()


def test_a_password_change_revokes_tokens(client, member):
    headers = auth(member)
    member.set_password("another-long-password")
    member.save()
    assert client.get("/api/wallet/", **headers).status_code == 401


def test_completing_is_202_with_the_pending_reward_and_the_upline_commission(
    client, member, assignment
):
    listed = client.get("/api/assignments/", **auth(member)).json()["assignments"]
    assert [(a["id"], a["status"], a["task"]["reward"]) for a in listed] == [
        (assignment.pk, "assigned", "12.50")
    ]
    response = complete(client, assignment, **auth(member))
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["earning"]["amount"], body["earning"]["status"]) == (
        "completed",
        "12.50",
        "pending",
    )
    matures = Earning.objects.get().matures_at - Assignment.objects.get().completed_at
    assert matures == timedelta(hours=72)
    assert Wallet.objects.get(member=member).pending == Decimal("12.50")
    row = CommissionLedger.objects.get()
    assert (row.beneficiary_id, row.amount, row.status) == (
        member.referred_by_id,
        Decimal("1.25"),
        "pending",
    )


def test_completing_twice_is_409_and_pays_once(client, member, assignment):
    assert complete(client, assignment, **auth(member)).status_code == 202
    again = complete(client, assignment, **auth(member))
    assert (again.status_code, again.json()["error"]["code"]) == (409, "completed")
    assert Earning.objects.count() == 1 and CommissionLedger.objects.count() == 1


def test_someone_elses_or_a_missing_assignment_is_404(client, assignment):
    stranger = MemberFactory()
    assert complete(client, assignment, **auth(stranger)).status_code == 404
    response = client.post("/api/assignments/999999/complete/", **auth(stranger))
    assert response.status_code == 404
    assert not Earning.objects.exists()


def test_yesterdays_assignment_is_409(client, member, assignment):
    Assignment.objects.filter(pk=assignment.pk).update(day=timezone.localdate() - timedelta(days=1))
    response = complete(client, assignment, **auth(member))
    assert (response.status_code, response.json()["error"]["code"]) == (409, "not_today")
    assert not Earning.objects.exists()


def test_get_is_not_allowed_on_complete(client, member, assignment):
    response = client.get(f"/api/assignments/{assignment.pk}/complete/", **auth(member))
    assert response.status_code == 405


@pytest.mark.django_db(transaction=True)
def test_over_http_a_member_signs_in_and_completes_an_activity(live_server, member, assignment):
    token = requests.post(
        f"{live_server.url}/api/auth/token/",
        json={"phone": member.phone, "password": PASSWORD},
        timeout=10,
    ).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{live_server.url}/api/assignments/{assignment.pk}/complete/"
    assert requests.post(url, headers=headers, timeout=10).status_code == 202
    wallet = requests.get(f"{live_server.url}/api/wallet/", headers=headers, timeout=10).json()
    assert wallet["pending"] == "12.50"
