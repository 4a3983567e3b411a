import json
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.payments.models import Package, Payment, StkRequest


@pytest.fixture
def package(db) -> Package:
    return Package.objects.create(
        code="1h",
        name="Normal 1 Hour",
        price=Decimal("50"),
        duration=timedelta(hours=1),
        rate_limit="2M/2M",
    )


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
