"""The whole stack, as `make up` runs it, for benchmarks that need it: supervisord with web,
the five pools, beat, Flower, a private Redis and the Daraja simulator, on free ports."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from config.env import BASE_DIR
from devstack.processes import free_port, wait_for


class Stack:
    def __init__(self, workdir: Path, database_url: str):
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.dev",
            "DJANGO_READ_DOT_ENV_FILE": "false",
            "DJANGO_DEBUG": "false",
            "LOG_LEVEL": "INFO",  # as shipped
            "VAR_DIR": str(workdir / "var"),
            "DATABASE_URL": database_url,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "DARAJA_BASE_URL": f"http://127.0.0.1:{free_port()}",
            "ROUTER_SIM_PORT": str(free_port()),
            "WEB_PORT": str(free_port()),
            "FLOWER_PORT": str(free_port()),
        }
        self.env.pop("FLOWER_BASIC_AUTH", None)
        self.web_port = int(self.env["WEB_PORT"])
        self.var = workdir / "var"
        self.log = workdir / "up.log"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Stack":
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "up"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self._running, timeout=180, interval=1, what="the stack to be RUNNING")
        return self

    def supervisorctl(self, *args: str) -> str:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "supervisor.supervisorctl",
                "-c",
                str(BASE_DIR / "supervisor" / "supervisord.conf"),
                *args,
            ],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    def _running(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"manage.py up exited; see {self.log}")
        status = self.supervisorctl("status")
        states = [line.split()[1] for line in status.splitlines() if line.strip()]
        return len(states) >= 10 and all(s == "RUNNING" for s in states)

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
