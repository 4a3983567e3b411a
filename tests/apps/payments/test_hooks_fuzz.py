"""Generated bodies thrown at every hook and at purchases: never a 5xx, never a payment paid
by a body that was refused."""

import json

import pytest
from django.conf import settings
from django.db import transaction
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from apps.payments.models import Payment
from tests.support import bodies

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


envelopes = st.sampled_from(
    [
        bodies.stk_success(CHECKOUT),
        bodies.stk_failure(CHECKOUT),
        bodies.c2b(amount="50.00", bill_ref="HSKX7P2Q"),
        {"phone": "0712345678", "package": "1h"},
        {"id": "evt_x", "type": "checkout.session.completed", "data": {"object": {}}},
    ]
)
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


@pytest.mark.django_db
@hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=raw_bodies, hook=st.sampled_from(HOOKS))
def test_no_body_breaks_a_hook_or_pays_without_being_accepted(client, pending, body, hook):
    headers = {}
    if hook == "/hooks/stripe/":
        headers["HTTP_STRIPE_SIGNATURE"] = bodies.stripe_signature(
            body, settings.STRIPE_WEBHOOK_SECRET
        )
    with transaction.atomic():
        response = client.post(hook, data=body, content_type="application/json", **headers)
        event(f"{hook} {response.status_code}")
        assert response.status_code < 500, response.content
        assert response["Content-Type"] == "application/json"
        json.loads(response.content)
        status = Payment.objects.get(pk=pending.pk).status
        if response.status_code >= 400:
            assert status == "pending"
        transaction.set_rollback(True)
