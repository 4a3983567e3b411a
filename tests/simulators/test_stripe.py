"""The Stripe simulator takes the secret key as Stripe does: Bearer (the libraries) or HTTP
Basic with the key as the user name (curl -u), and refuses any other."""

import pytest
import requests
from django.conf import settings

KEY = settings.STRIPE_SECRET_KEY  # the key the suite's simulator knows (tests/conftest.py)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("auth", "status"),
    [
        ({"headers": {"Authorization": f"Bearer {KEY}"}}, 404),  # known key, no such session
        ({"auth": (KEY, "")}, 404),
        ({"headers": {"Authorization": "Bearer sk_test_wrong"}}, 401),
        ({"auth": ("sk_test_wrong", "")}, 401),
        ({}, 401),
    ],
)
def test_the_secret_key_is_taken_as_stripe_takes_it(stripe_sim, auth, status):
    url = f"{stripe_sim.url}/v1/checkout/sessions/cs_test_missing"
    response = requests.get(url, timeout=5, **auth)
    assert response.status_code == status, response.text
    assert response.json()["error"]["type"] == "invalid_request_error"
