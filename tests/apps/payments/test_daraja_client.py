"""The Daraja client against the simulator over HTTP: token sharing, transient vs refused."""

import time
from decimal import Decimal

import pytest
import requests
from django.core.cache import cache

from apps.common.errors import ApplicationError, TransientError
from apps.payments import daraja


@pytest.fixture
def client(simulator, settings):
    settings.DARAJA_BASE_URL = simulator.url
    settings.DARAJA_TIMEOUT = 1.0
    cache.delete(daraja.TOKEN_KEY)
    knobs = {"slow": 0.0, "error_rate": 0.0}
    yield lambda **changes: requests.post(
        f"{simulator.url}/simulator/config", json=changes, timeout=5
    )
    requests.post(f"{simulator.url}/simulator/config", json=knobs, timeout=5)


def push(**overrides):
    fields = {
        "phone": "254712345678",
        "amount": Decimal("50"),
        "reference": "HSABCDEF",
        "description": "Normal 1 Hour",
        "callback_url": "http://127.0.0.1:9/hooks/stk/t/",
    }
    return daraja.stk_push(**{**fields, **overrides})


def test_one_token_serves_every_call_until_it_expires(client, simulator):
    first = push()
    token = cache.get(daraja.TOKEN_KEY)
    second = push()
    assert token and cache.get(daraja.TOKEN_KEY) == token
    assert first.checkout_request_id != second.checkout_request_id
    assert first.checkout_request_id.startswith("ws_CO_")


def test_a_query_before_the_answer_has_no_record_then_the_result(client):
    pushed = push()
    with pytest.raises(daraja.DarajaNoRecord):
        daraja.stk_query(pushed.checkout_request_id)
    deadline = time.monotonic() + 5
    while True:
        try:
            status = daraja.stk_query(pushed.checkout_request_id)
            break
        except daraja.DarajaNoRecord:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert status.result_code in {"0", "1032", "1037", "1"}  # the simulator's default mix
    assert status.result_desc


def test_server_errors_and_timeouts_are_transient(client):
    client(error_rate=1.0)
    with pytest.raises(daraja.DarajaUnavailable) as error:
        push()
    assert isinstance(error.value, TransientError)
    client(error_rate=0.0, slow=1.5)
    # Sent and unanswered: transient too, but Daraja may have acted on it (services/stk.py).
    with pytest.raises(daraja.DarajaAmbiguous, match="no answer in") as error:
        push()
    assert isinstance(error.value, daraja.DarajaUnavailable)


def test_nothing_listening_is_transient(settings):
    settings.DARAJA_BASE_URL = "http://127.0.0.1:9"
    cache.delete(daraja.TOKEN_KEY)
    with pytest.raises(daraja.DarajaUnavailable):
        daraja.token()


def test_a_refused_request_is_permanent(client):
    with pytest.raises(daraja.DarajaRefused) as error:
        push(amount=Decimal("0"))
    assert isinstance(error.value, ApplicationError) and error.value.code == "400.002.02"


def test_wrong_credentials_are_refused(client, settings):
    settings.DARAJA_CONSUMER_SECRET = "wrong"
    with pytest.raises(daraja.DarajaRefused, match="Invalid Authentication"):
        daraja.token()


def test_a_revoked_token_is_dropped_and_the_call_retried_later(client):
    cache.set(daraja.TOKEN_KEY, "revoked-token", 60)
    with pytest.raises(daraja.DarajaUnavailable, match="Invalid Access Token"):
        push()
    assert cache.get(daraja.TOKEN_KEY) is None
    assert push().checkout_request_id
