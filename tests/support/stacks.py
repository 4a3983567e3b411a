"""The whole stack as `make up` runs it (manage.py up under supervisord), on free ports with
a private Redis, for the tests that need real supervisor programs."""

import base64
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from config.env import BASE_DIR
from devstack.processes import free_port

SUPERVISORCTL = [
    sys.executable,
    "-m",
    "supervisor.supervisorctl",
    "-c",
    str(BASE_DIR / "supervisor" / "supervisord.conf"),
]


def start_stack(tmp_path: Path, **extra: str) -> subprocess.Popen:
    """Start `manage.py up`; ``process.env`` is its environment, ``process.log_path`` its log."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "FLOWER_BASIC_AUTH", "REDIS_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DJANGO_READ_DOT_ENV_FILE="false",
        VAR_DIR=str(tmp_path / "var"),
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
        DARAJA_BASE_URL=f"http://127.0.0.1:{free_port()}",
        ROUTER_SIM_PORT=str(free_port()),
        WEB_PORT=str(free_port()),
        FLOWER_PORT=str(free_port()),
        **extra,
    )
    with (tmp_path / "up.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "up"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process.env, process.log_path = env, tmp_path / "up.log"
    return process


def kill_stack(process: subprocess.Popen) -> None:
    """Whatever is left of a stack a test did not stop itself."""
    if process.poll() is None:
        children = psutil.Process(process.pid).children(recursive=True)
        os.killpg(process.pid, signal.SIGKILL)
        for child in children:
            if child.is_running():
                child.kill()


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    """``manage.py <args>`` against the stack, as an operator would run it."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def supervisorctl(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SUPERVISORCTL, *args], env=env, capture_output=True, text=True, check=False
    )


def status(env) -> dict[str, str]:
    result = supervisorctl(env, "status")
    return dict(line.split()[:2] for line in result.stdout.splitlines() if line.strip())


def http(url: str, auth: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()
