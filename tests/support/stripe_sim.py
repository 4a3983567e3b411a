"""The Stripe simulator (simulators/stripe.py) over HTTP for the tests, with the test settings'
secret key and webhook secret, and its knobs and state."""

import requests
import stripe
from django.conf import settings

from devstack.processes import ServerProcess, wait_for


class StripeSim(ServerProcess):
    def __init__(self, log_path):
        super().__init__(
            "simulators.stripe",
            log_path,
            "--secret-key",
            settings.STRIPE_SECRET_KEY,
            "--webhook-secret",
            settings.STRIPE_WEBHOOK_SECRET,
        )

    def knobs(self, **changes) -> dict:
        response = requests.post(f"{self.url}/simulator/config", json=changes, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def state(self) -> dict:
        return requests.get(f"{self.url}/simulator/state", timeout=5).json()

    def deliveries(self, count: int) -> list[dict]:
        """The first ``count`` webhook deliveries, once they have all been answered."""
        return wait_for(
            lambda: len(d := self.state()["deliveries"]) >= count and d,
            timeout=30,
            what=f"{count} deliveries",
        )

    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses={"api": self.url})
