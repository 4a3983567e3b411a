"""The Africa's Talking simulator (simulators/africastalking.py) over HTTP for the tests, with
the settings' API key and username unless given others, and its knobs and what it received."""

from pathlib import Path

import requests
from django.conf import settings

from devstack.processes import ServerProcess, wait_for


class SmsSim(ServerProcess):
    def __init__(
        self,
        log_path: Path,
        *,
        dlr_url: str = "",
        api_key: str | None = None,
        username: str | None = None,
    ):
        self.api_key = api_key or settings.AFRICASTALKING_API_KEY
        self.username = username or settings.AFRICASTALKING_USERNAME
        super().__init__(
            "simulators.africastalking",
            log_path,
            "--api-key",
            self.api_key,
            "--username",
            self.username,
            "--dlr-url",
            dlr_url,
        )

    def knobs(self, **changes) -> dict:
        response = requests.post(f"{self.url}/simulator/config", json=changes, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def messages(self) -> list[dict]:
        """Every recipient-message received, oldest first."""
        return requests.get(f"{self.url}/simulator/messages", timeout=5).json()

    def state(self) -> dict:
        return requests.get(f"{self.url}/simulator/state", timeout=5).json()

    def reset(self) -> None:
        """Forget messages, counts and pending reports; back to the knobs it started with."""
        requests.post(f"{self.url}/simulator/reset", json={}, timeout=5).raise_for_status()

    def wait_for_messages(self, count: int, timeout: float = 10) -> list[dict]:
        """The messages received, once there are at least ``count``."""
        return wait_for(
            lambda: len(m := self.messages()) >= count and m,
            timeout=timeout,
            what=f"{count} messages at the SMS simulator",
        )
