import pytest


@pytest.fixture
def clean_metrics(redis_client):
    """No metrics recorded before the test (they live in the suite's Redis)."""
    for key in redis_client.scan_iter("metrics:*"):
        redis_client.delete(key)
    redis_client.delete("ops:pools")
