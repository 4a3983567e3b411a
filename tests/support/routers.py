"""The RouterOS simulator in a subprocess, with its HTTP control port at hand."""

from pathlib import Path

import requests

from devstack.processes import ServerProcess, free_port

USERNAME, PASSWORD = "api", "s3cret-router"


class RouterSim(ServerProcess):
    def __init__(self, log_path: Path, *args: str):
        port = free_port()
        control = free_port()
        while control == port:  # two free ports asked for in a row may be the same one
            control = free_port()
        self.control = f"http://127.0.0.1:{control}"
        super().__init__(
            "simulators.routeros",
            log_path,
            "--username",
            USERNAME,
            "--password",
            PASSWORD,
            "--control-port",
            str(control),
            *args,
            port=port,
        )

    def knobs(self, **changes) -> dict:
        response = requests.post(f"{self.control}/config", json=changes, timeout=5)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict:
        return requests.get(f"{self.control}/state", timeout=5).json()

    def login_user(self, user: str) -> str:
        return requests.post(f"{self.control}/sessions", json={"user": user}, timeout=5).json()[
            ".id"
        ]

    def reset(self) -> None:
        requests.post(f"{self.control}/reset", json={}, timeout=5).raise_for_status()
        self.knobs(latency=0.005, refuse_next=0, down=False, drop_next=0, trap_next=0)
