"""GET /healthz over a real socket: 200 while the database and Redis answer, 503 without Redis."""

import json
import urllib.error
import urllib.request

import pytest

from devstack.processes import LocalRedis

pytestmark = pytest.mark.django_db(transaction=True)


def get(url: str) -> tuple[int, dict, str]:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return response.status, json.loads(response.read()), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read()), error.headers["Content-Type"]


def test_healthz_is_ok_when_database_and_broker_answer(live_server):
    status, body, content_type = get(f"{live_server.url}/healthz")
    assert status == 200
    assert content_type == "application/json"
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True and body["broker"]["ok"] is True
    assert body["database"]["latency_ms"] >= 0


def test_healthz_is_503_when_redis_stops(live_server, settings, tmp_path):
    redis_server = LocalRedis(tmp_path).start()
    settings.CELERY_BROKER_URL = redis_server.url
    try:
        assert get(f"{live_server.url}/healthz")[0] == 200
    finally:
        redis_server.stop()

    status, body, _ = get(f"{live_server.url}/healthz")
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["broker"] == {"ok": False, "error": "ConnectionError"}
    assert body["database"]["ok"] is True


def test_healthz_refuses_writes(live_server):
    request = urllib.request.Request(f"{live_server.url}/healthz", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=15)
    error.value.close()
    assert error.value.code == 405
