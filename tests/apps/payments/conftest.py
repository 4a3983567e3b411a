import json

import pytest

from apps.payments.models import Package, Payment, StkRequest


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
