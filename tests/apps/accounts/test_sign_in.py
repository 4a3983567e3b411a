"""Sign-in: limited per address and per phone in the suite's real Redis, refused with 503 (never
unlimited) while Redis is down, when purchases go on; and the tokens it gives out expire, die
with a deactivated member and with a password change."""

import json
import time
import uuid

import pytest

from apps.accounts.tokens import token_issue
from devstack.processes import LocalRedis, wait_for
from tests.support.factories import MemberFactory

PASSWORD = "a-long-member-password"

pytestmark = pytest.mark.django_db


def sign_in(client, phone: str, password: str = PASSWORD, **meta):
    body = json.dumps({"phone": phone, "password": password})
    return client.post("/api/auth/token/", body, content_type="application/json", **meta)


def address() -> str:
    """An address no other test signs in from (the limits' windows outlive a test)."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{n // 250 % 250}.{n // 62500 % 250 + 1}"


def phone() -> str:
    return f"2547{uuid.uuid4().int % 10**8:08d}"


@pytest.fixture
def member():
    member = MemberFactory(phone=phone())
    member.set_password(PASSWORD)
    member.save()
    return member


def assert_limited(response, scope: str) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "rate_limited"
    assert scope in response.json()["error"]["message"]
    assert 1 <= int(response["Retry-After"]) <= 300


@pytest.mark.parametrize("via", ["remote_addr", "forwarded"])
def test_one_address_is_limited_across_phones(client, settings, member, via):
    settings.SIGN_IN_RATE_PER_IP, settings.SIGN_IN_RATE_PER_PHONE = "3/300", "100/300"
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    ip = address()
    if via == "remote_addr":
        meta = {"REMOTE_ADDR": ip}
    else:  # behind our proxy: the client's address is the hop before it
        meta = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": f"198.51.100.9, {ip}"}
    for _ in range(3):  # three guesses on three other phones
        assert sign_in(client, phone(), "guess", **meta).status_code == 401
    assert_limited(sign_in(client, member.phone, **meta), "address")  # even the right password
    assert sign_in(client, member.phone, REMOTE_ADDR=address()).status_code == 200


def test_an_untrusted_forwarded_header_does_not_change_the_address(client, settings):
    settings.SIGN_IN_RATE_PER_IP, settings.SIGN_IN_RATE_PER_PHONE = "3/300", "100/300"
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    ip = address()
    for _ in range(3):
        forged = {"REMOTE_ADDR": ip, "HTTP_X_FORWARDED_FOR": address()}
        assert sign_in(client, phone(), "guess", **forged).status_code == 401
    forged = {"REMOTE_ADDR": ip, "HTTP_X_FORWARDED_FOR": address()}
    assert_limited(sign_in(client, phone(), "guess", **forged), "address")


def test_one_phone_is_limited_across_addresses_and_spellings(client, settings, member):
    settings.SIGN_IN_RATE_PER_IP, settings.SIGN_IN_RATE_PER_PHONE = "100/300", "3/300"
    local = "0" + member.phone[3:]
    for spelling in (member.phone, local, "+" + member.phone):
        response = sign_in(client, spelling, "guess", REMOTE_ADDR=address())
        assert response.status_code == 401
    assert_limited(sign_in(client, local, REMOTE_ADDR=address()), "phone number")
    ip = address()
    assert sign_in(client, phone(), "guess", REMOTE_ADDR=ip).status_code == 401  # other phones
    other = MemberFactory(phone=phone())
    other.set_password(PASSWORD)
    other.save()
    assert sign_in(client, other.phone, REMOTE_ADDR=ip).status_code == 200


@pytest.fixture
def redis_stopped(settings, tmp_path):
    """The limiter's Redis (the broker's URL) a private server, stopped once ``stop()``."""
    server = LocalRedis(tmp_path).start()
    settings.CELERY_BROKER_URL = server.url
    yield server
    server.stop()


def test_while_redis_is_down_sign_in_is_503_and_purchases_go_on(
    client, settings, member, package, redis_stopped
):
    import redis

    settings.PURCHASE_RATE_EXEMPT_IPS = []
    assert sign_in(client, member.phone, REMOTE_ADDR=address()).status_code == 200
    counted = redis.Redis.from_url(redis_stopped.url).keys("ratelimit:sign-ins:*")
    assert len(counted) == 2  # the address and the phone, in the server about to stop

    redis_stopped.stop()
    for _ in range(3):
        response = sign_in(client, member.phone, REMOTE_ADDR=address())
        assert response.status_code == 503, response.content
        assert response.json()["error"]["code"] == "rate_limiter_unavailable"
        assert response["Retry-After"] == "30"
        assert "token" not in response.json()

    bought = client.post(
        "/api/purchases/",
        json.dumps({"phone": phone(), "package": package.code}),
        content_type="application/json",
        REMOTE_ADDR=address(),
    )
    assert bought.status_code == 202, bought.content


def auth(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_a_token_older_than_api_token_max_age_is_401(client, settings, member):
    settings.API_TOKEN_MAX_AGE = 2  # signed with whole seconds: it lives 1 to 2 s
    issued = time.monotonic()
    token = token_issue(member)
    assert client.get("/api/wallet/", **auth(token)).status_code == 200
    wait_for(
        lambda: client.get("/api/wallet/", **auth(token)).status_code == 401,
        timeout=5,
        interval=0.1,
        what="the token to expire",
    )
    assert time.monotonic() - issued >= 1  # not before its age
    response = client.get("/api/wallet/", **auth(token))
    assert response.json()["error"]["code"] == "unauthenticated"
    assert client.get("/api/wallet/", **auth(token_issue(member))).status_code == 200


def test_a_deactivated_members_token_is_401(client, member):
    token = token_issue(member)
    assert client.get("/api/assignments/", **auth(token)).status_code == 200
    member.is_active = False
    member.save(update_fields=["is_active"])
    for response in (
        client.get("/api/assignments/", **auth(token)),
        client.get("/api/wallet/", **auth(token)),
        client.post("/api/assignments/1/complete/", **auth(token)),
    ):
        assert response.status_code == 401
    assert sign_in(client, member.phone, REMOTE_ADDR=address()).status_code == 401


def test_a_password_change_revokes_the_token_and_the_new_password_signs_in(client, member):
    token = sign_in(client, member.phone, REMOTE_ADDR=address()).json()["token"]
    assert client.get("/api/wallet/", **auth(token)).status_code == 200
    member.set_password("another-long-password")
    member.save()
    assert client.get("/api/wallet/", **auth(token)).status_code == 401
    fresh = sign_in(client, member.phone, "another-long-password", REMOTE_ADDR=address())
    assert client.get("/api/wallet/", **auth(fresh.json()["token"])).status_code == 200


def test_a_fault_of_the_redis_client_itself_is_a_503_not_a_500(client, member, monkeypatch):
    import redis

    def broken(self, *args, **kwargs):
        # What redis-py raised once, a connection dropped under its handshake.
        raise AttributeError("'NoneType' object has no attribute 'readline'")

    monkeypatch.setattr(redis.client.Pipeline, "execute", broken)
    response = sign_in(client, member.phone, REMOTE_ADDR=address())
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "rate_limiter_unavailable"
