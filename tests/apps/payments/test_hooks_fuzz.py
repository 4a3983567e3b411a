"""Generated requests thrown at every hook, at purchases and at the members' API: never a 5xx,
never a payment paid or a reward credited by a request that was refused, and every endpoint
shown to have parsed what it was sent (answered, not refused by a rate limit first)."""

import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.accounts.tokens import token_issue
from apps.engagement.models import Activity, Assignment
from apps.payments.models import Payment
from apps.wallets.models import Earning
from devstack.processes import LocalRedis
from tests.support import bodies
from tests.support.factories import MemberFactory

CHECKOUT = "ws_CO_14032025101522418"
HOOKS = [
    "/hooks/stk/test-hooks/",
    "/hooks/c2b/validate/test-hooks/",
    "/hooks/c2b/confirm/test-hooks/",
    "/hooks/stripe/",
    "/api/purchases/",
]

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)
known_keys = st.sampled_from(
    [
        "Body",
        "stkCallback",
        "ResultCode",
        "ResultDesc",
        "CheckoutRequestID",
        "MerchantRequestID",
        "CallbackMetadata",
        "Item",
        "Name",
        "Value",
        "Amount",
        "TransID",
        "TransAmount",
        "BusinessShortCode",
        "BillRefNumber",
        "TransTime",
        "phone",
        "package",
        "method",
        "id",
        "type",
        "data",
        "object",
    ]
)


def mutate(base: dict, path: list, value):
    """``base`` with the value at ``path`` (as far as it exists) replaced."""
    body = json.loads(json.dumps(base))
    node = body
    for key in path[:-1]:
        if (isinstance(node, dict) and key in node) or (
            isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node)
        ):
            node = node[key]
        else:
            break
    if isinstance(node, dict):
        node[path[-1] if isinstance(path[-1], str) else "x"] = value
    return body


MEMBER_PHONE, PASSWORD = "254722000111", "a-long-member-password"
ENVELOPES = [
    bodies.stk_success(CHECKOUT),
    bodies.stk_failure(CHECKOUT),
    bodies.c2b(amount="50.00", bill_ref="HSKX7P2Q"),
    {"phone": "0712345678", "package": "1h"},
    {"id": "evt_x", "type": "checkout.session.completed", "data": {"object": {}}},
    {"phone": "0722000111", "password": PASSWORD},
]
envelopes = st.sampled_from(ENVELOPES)
raw_bodies = (
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(known_keys, json_values, max_size=6).map(lambda v: json.dumps(v).encode())
    | st.builds(
        mutate,
        envelopes,
        st.lists(known_keys | st.integers(-2, 4), min_size=1, max_size=5),
        json_values,
    ).map(lambda v: json.dumps(v).encode())
)


# Generated requests per endpoint; each endpoint must see at least EXERCISED of them answered
# by its view (not refused by a rate limit before parsing), and never a 5xx.
EXAMPLES, EXERCISED = 80, 60
ENDPOINTS = [
    "POST /hooks/stk/<token>/",
    "POST /hooks/stk/<token>/<reference>/",
    "POST /hooks/c2b/validate/<token>/",
    "POST /hooks/c2b/confirm/<token>/",
    "POST /hooks/stripe/",
    "POST /api/purchases/",
    "POST /api/auth/token/",
    "POST /api/assignments/<id>/complete/",
    "GET /api/assignments/",
    "GET /api/wallet/",
]

# One path segment, as the push names it: any text but a slash (that would be another URL).
references = st.sampled_from(["HSKX7P2Q", "HS-KX7P2Q", "hskx7p2q", "HSNOPE00"]) | st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="/"), min_size=1, max_size=24
).filter(lambda t: t.strip(".")).map(lambda t: quote(t, safe=""))
# The member's own token and assignment come a third of the time each: both sides get tried.
assignment_ids = st.just("mine") | st.just("theirs") | st.integers(0, 10**20)
authorizations = (
    st.just("good")
    | st.sampled_from(["theirs", "tampered", "none", "Bearer ", "Basic YTpi", "Bearer a:b:c"])
    | st.text(max_size=40).map(lambda t: f"Bearer {t}")
)
queries = st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)
with_envelopes = raw_bodies | envelopes.map(lambda v: json.dumps(v).encode())


@dataclass(frozen=True)
class Members:
    """A member with a password and today's assignment, and another member with theirs."""

    token: str
    other_token: str
    assignment: Assignment
    other_assignment: Assignment


@pytest.fixture
def members(db) -> Members:
    member = MemberFactory(phone=MEMBER_PHONE, referred_by=MemberFactory())
    member.set_password(PASSWORD)
    member.save()
    other = MemberFactory()
    activity = Activity.objects.create(title="Watch", kind="video", reward=Decimal("5.00"))
    today = timezone.localdate()
    return Members(
        token=token_issue(member),
        other_token=token_issue(other),
        assignment=Assignment.objects.create(member=member, activity=activity, day=today),
        other_assignment=Assignment.objects.create(member=other, activity=activity, day=today),
    )


@pytest.fixture
def unlimited(settings, tmp_path):
    """Limits far above the run's requests, so bodies reach the views (429 is counted),
    counted in a private Redis: the suite's counters stay as the other tests expect them."""
    limiter = LocalRedis(tmp_path).start()
    settings.CELERY_BROKER_URL = limiter.url
    for name in (
        "PURCHASE_RATE_PER_IP",
        "PURCHASE_RATE_PER_PHONE",
        "SIGN_IN_RATE_PER_IP",
        "SIGN_IN_RATE_PER_PHONE",
    ):
        setattr(settings, name, "1000000/60")
    yield
    limiter.stop()


def send(client, endpoint: str, draw, members: Members):
    method, path = endpoint.split(" ")
    path = path.replace("<token>", settings.DARAJA_CALLBACK_TOKEN)
    if "<reference>" in path:
        path = path.replace("<reference>", draw(references))
    if "<id>" in path:
        which = draw(assignment_ids)
        mine, theirs = members.assignment.pk, members.other_assignment.pk
        path = path.replace("<id>", str({"mine": mine, "theirs": theirs}.get(which, which)))
    meta = {}
    if path.startswith(("/api/assignments/", "/api/wallet/")):
        auth = draw(authorizations)
        tokens = {
            "good": members.token,
            "theirs": members.other_token,
            "tampered": members.token[:-1] + ("A" if members.token[-1] != "A" else "B"),
        }
        if auth in tokens:
            auth = f"Bearer {tokens[auth]}"
        if auth != "none":
            meta["HTTP_AUTHORIZATION"] = auth
    if method == "GET":
        return client.get(path, draw(queries), **meta)
    body = draw(with_envelopes)
    if path == "/hooks/stripe/":
        meta["HTTP_STRIPE_SIGNATURE"] = bodies.stripe_signature(
            body, settings.STRIPE_WEBHOOK_SECRET
        )
    return client.post(path, data=body, content_type="application/json", **meta)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_no_request_breaks_an_endpoint_or_moves_money_without_being_accepted(
    client, pending, members, unlimited, endpoint
):
    statuses = Counter()

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def one_request(data):
        with transaction.atomic():
            response = send(client, endpoint, data.draw, members)
            statuses[response.status_code] += 1
            event(f"{endpoint} {response.status_code}")
            assert response.status_code < 500, response.content
            assert response["Content-Type"] == "application/json"
            json.loads(response.content)
            if response.status_code >= 400:  # refused: nothing paid, nothing credited
                assert Payment.objects.get(pk=pending.pk).status == "pending"
                assert not Earning.objects.exists()
                assert not Assignment.objects.filter(status="completed").exists()
            transaction.set_rollback(True)

    one_request()
    reached = sum(n for status, n in statuses.items() if status != 429)
    assert reached >= EXERCISED, statuses
    if "/api/assignments/" in endpoint or "/api/wallet/" in endpoint:
        assert statuses[401] and (statuses[200] or statuses[202]), statuses  # both sides
