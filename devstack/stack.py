"""The whole stack as `make up` runs it (`manage.py up` under supervisord): web, one pool per
queue, beat, Flower, a private Redis and the simulators, on free ports and in its own VAR_DIR.
The one runner the tests and the benchmark share."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from config.env import BASE_DIR
from devstack.processes import free_port, wait_for

CONF = BASE_DIR / "supervisor" / "supervisord.conf"
# The caller's values for these would point the stack at another machine's services.
NOT_INHERITED = {"DATABASE_URL", "FLOWER_BASIC_AUTH", "REDIS_URL"}


class Stack:
    def __init__(self, workdir: Path, **env: str):
        self.var = workdir / "var"
        self.log = workdir / "up.log"
        self.env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        self.env.update(
            DJANGO_SETTINGS_MODULE="config.settings.dev",
            DJANGO_READ_DOT_ENV_FILE="false",
            VAR_DIR=str(self.var),
            REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
            DARAJA_BASE_URL=f"http://127.0.0.1:{free_port()}",
            STRIPE_API_BASE=f"http://127.0.0.1:{free_port()}",
            AFRICASTALKING_BASE_URL=f"http://127.0.0.1:{free_port()}",
            ROUTER_SIM_PORT=str(free_port()),
            WEB_PORT=str(free_port()),
            FLOWER_PORT=str(free_port()),
            **env,
        )
        self.web_port = int(self.env["WEB_PORT"])
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Stack":
        """Start `manage.py up` in its own session (as a terminal would)."""
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "up"],
                cwd=BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_running(self, programs: set[str] | None = None, timeout: float = 180) -> set[str]:
        """Wait until ``programs`` (default: every program supervisord has) are RUNNING."""

        def running() -> set[str] | None:
            if self.process.poll() is not None:
                raise RuntimeError(f"manage.py up exited; see {self.log}")
            states = self.status()
            up = {name for name, state in states.items() if state == "RUNNING"}
            wanted = programs if programs is not None else set(states)
            return up if states and wanted <= up else None

        return wait_for(running, timeout=timeout, interval=1, what="the stack to be RUNNING")

    def __enter__(self) -> "Stack":
        self.start().wait_running()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def supervisorctl(self, *args: str) -> subprocess.CompletedProcess:
        socket = f"unix://{self.var}/run/supervisor.sock"
        command = [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(CONF)]
        return subprocess.run(
            [*command, "-s", socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def status(self) -> dict[str, str]:
        """Program -> state, as `make status` prints them."""
        lines = self.supervisorctl("status").stdout.splitlines()
        return dict(line.split()[:2] for line in lines if len(line.split()) > 1)

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        """``manage.py <args>`` against the stack, as an operator would run it."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    def stop(self, timeout: float = 120) -> int | None:
        """Ctrl-C, as a developer stops it; whatever is still there after ``timeout`` is killed."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """SIGKILL everything the stack started that is still alive."""
        if self.process is None or self.process.poll() is not None:
            return
        children = psutil.Process(self.process.pid).children(recursive=True)
        os.killpg(self.process.pid, signal.SIGKILL)
        for child in children:
            if child.is_running():
                child.kill()
        self.process.wait()
