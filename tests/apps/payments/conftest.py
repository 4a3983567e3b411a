import json
from datetime import timedelta

import pytest
import requests

from apps.payments.models import Package, Payment, StkRequest
from tests.support.workers import ProbeWorker


@pytest.fixture
def package(package) -> Package:
    """The suite's package, without a data cap: payments never look at one."""
    package.data_cap_bytes = None
    package.save(update_fields=["data_cap_bytes"])
    return package


@pytest.fixture
def pending(package) -> Payment:
    """A payment whose STK push Daraja accepted, waiting for its callback."""
    payment = Payment.objects.create(
        package=package, phone="254712345678", amount=package.price, reference="HSKX7P2Q"
    )
    StkRequest.objects.create(
        payment=payment,
        checkout_request_id="ws_CO_14032025101522418",
        merchant_request_id="7d3a-4c1e",
    )
    return payment


@pytest.fixture
def queued(redis_client, empty_queues):
    """The tasks waiting in the payments queue: [(task name, kwargs)]."""
    import base64

    def read() -> list[tuple[str, dict]]:
        messages = [json.loads(m) for m in redis_client.lrange("payments", 0, -1)]
        return [
            (m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[1]) for m in messages
        ]

    return read


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST a JSON body (or raw bytes) with the test client; on-commit work runs, for real."""

    def send(url: str, body, **extra):
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data=data, content_type="application/json", **extra)

    return send


@pytest.fixture
def knobs(simulator):
    """Set Daraja simulator knobs for one test; all of them go back afterwards."""
    saved = requests.get(f"{simulator.url}/simulator/state", timeout=5).json()["knobs"]

    def configure(**changes):
        response = requests.post(f"{simulator.url}/simulator/config", json=changes, timeout=5)
        assert response.status_code == 200, response.text

    yield configure
    configure(**saved)


# The live tests' clock: queried after 2 s without a callback, pushed again 8 s after the
# last news of a payment (longer than the callback delays the tests pin), and a Daraja call
# unanswered after 1.5 s is one Daraja may have acted on.
LIVE_ENV = {
    "RECONCILE_QUERY_AFTER": "2",
    "RECONCILE_NUDGE_AFTER": "2",
    "RECONCILE_PUSH_AFTER": "8",
    "PAYMENT_EXPIRE_AFTER": "300",
    "DARAJA_TIMEOUT": "1.5",
}


@pytest.fixture(scope="module")
def daraja_worker(django_db_setup, django_db_blocker, simulator, live_server, tmp_path_factory):
    """A real payments worker pool against the Daraja simulator, calling back to the live
    server, on the live tests' clock (LIVE_ENV), for one test module."""
    env = {
        "DARAJA_BASE_URL": simulator.url,
        "DARAJA_CALLBACK_BASE_URL": live_server.url,
        **LIVE_ENV,
    }
    process = ProbeWorker(
        tmp_path_factory.mktemp("payments-worker"),
        queue_names=["payments"],
        concurrency=2,
        env=env,
    ).start()
    yield process
    process.stop()


@pytest.fixture
def on_sale(db, settings):
    """The package the live tests buy (KES 50), purchases open to this machine."""
    settings.PURCHASE_RATE_EXEMPT_IPS = ["127.0.0.1"]
    settings.PURCHASE_RATE_PER_PHONE = "100/60"
    return Package.objects.create(
        code="1h", name="Normal 1 Hour", price=50, duration=timedelta(hours=1)
    )
