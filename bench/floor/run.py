"""Runs the floor for the benchmark: its database migrated, its own Africa's Talking
simulator (reporting deliveries to the floor's web), gunicorn and three Celery pools with the
product's flags (supervisor/programs/web.conf, worker-*.conf), each writing to a log file in
the work directory, and its table read with psycopg.

The benchmark's own process has the product's Django settings, so nothing here imports the
floor's Django code: the floor runs only in the processes started here.
"""

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import psycopg
import requests
from celery import Celery

from bench.floor import broker
from devstack.processes import ServerProcess, WorkerProcess, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "bench.floor.settings"
# The product's worker recycling, from the same variables and defaults
# (config/settings/celery.py), which supervisor passes to its pools.
MAX_TASKS_PER_CHILD = int(os.environ.get("WORKER_MAX_TASKS_PER_CHILD", "1000"))
MAX_MEMORY_KB = int(os.environ.get("WORKER_MAX_MEMORY_KB", "256000"))


class FloorWeb(ServerProcess):
    """gunicorn serving the floor, with the web program's flags."""

    def __init__(self, log_path: Path, *, port: int, workers: int, env: dict):
        flags = [
            *("--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--access-logfile", "-"),
            *("--worker-class", "gthread", "--threads", "4", "--timeout", "30"),
            *("--graceful-timeout", "25"),
            *("--control-socket", str(log_path.with_name("floor-gunicorn.ctl"))),
        ]
        super().__init__(
            "gunicorn", log_path, port=port, env=env, argv=["bench.floor.wsgi:application", *flags]
        )
        self.workers = workers

    def start(self) -> "FloorWeb":
        super().start()  # the master listens; its workers may still be booting
        wait_for(self.ready, timeout=60, interval=0.1, what="the floor's web workers")
        return self

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {self.log_path}")
        booted = len(psutil.Process(self.process.pid).children()) >= self.workers
        try:  # GET is refused by the view: Django answered, nothing was written
            answered = requests.get(f"{self.url}/floor/purchases/", timeout=1).status_code == 405
        except requests.RequestException:
            answered = False
        return booted and answered


def floor_worker(queue: str, log_path: Path, *, concurrency: int, env: dict, control):
    """A floor pool: `celery worker` with a worker program's flags, asked through the floor's
    broker whether it consumes."""
    return WorkerProcess(
        f"{queue}@{socket.gethostname()}",
        [queue],
        log_path,
        concurrency=concurrency,
        env=env,
        app="bench.floor.celery:app",
        args=(
            f"--max-tasks-per-child={MAX_TASKS_PER_CHILD}",
            f"--max-memory-per-child={MAX_MEMORY_KB}",
        ),
        control=control,
    )


class Floor:
    """Bare Django and bare Celery doing one purchase's messages and writes (see
    bench/floor/__init__.py), started and stopped as a context manager."""

    purchase_path = "/floor/purchases/"

    def __init__(
        self,
        workdir: Path,
        *,
        database_url: str,
        redis_url: str,
        daraja_url: str,
        router_host: str,
        router_port: int,
        router_username: str,
        router_password: str,
        sms_api_key: str,
        sms_username: str,
        web_workers: int,
        payments_pool: int,
        provisioning_pool: int,
        notifications_pool: int,
    ):
        self.workdir = Path(workdir)
        self.database_url = database_url
        self.web_port = free_port()
        logs = self.workdir
        # Its own gateway, as the product's stack has one: a gateway reports every delivery
        # to one address, here the floor's.
        self.sms_gateway = ServerProcess(
            "simulators.africastalking",
            logs / "floor-africastalking.log",
            *("--api-key", sms_api_key, "--username", sms_username),
            *("--dlr-url", f"http://127.0.0.1:{self.web_port}/floor/sms/"),
        )
        self.env = {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DARAJA_BASE_URL": daraja_url.rstrip("/"),
            "FLOOR_CALLBACK_BASE": f"http://127.0.0.1:{self.web_port}",
            "ROUTER_HOST": router_host,
            "ROUTER_PORT": str(router_port),
            "ROUTER_USERNAME": router_username,
            "ROUTER_PASSWORD": router_password,
            "AFRICASTALKING_BASE_URL": self.sms_gateway.url,
            "AFRICASTALKING_API_KEY": sms_api_key,
            "AFRICASTALKING_USERNAME": sms_username,
        }
        # Only to ask the pools whether they consume: never set as the current app, and
        # without Celery's Django fixup, since this process has the product's settings.
        self.control = Celery("floor-control", broker=redis_url, set_as_current=False, fixups=[])
        self.control.conf.broker_transport_options = broker.TRANSPORT_OPTIONS
        self.web = FloorWeb(
            logs / "floor-web.log", port=self.web_port, workers=web_workers, env=self.env
        )
        self.payments = floor_worker(
            broker.PAYMENTS,
            logs / "floor-payments.log",
            concurrency=payments_pool,
            env=self.env,
            control=self.control,
        )
        self.provisioning = floor_worker(
            broker.PROVISIONING,
            logs / "floor-provisioning.log",
            concurrency=provisioning_pool,
            env=self.env,
            control=self.control,
        )
        self.notifications = floor_worker(
            broker.NOTIFICATIONS,
            logs / "floor-notifications.log",
            concurrency=notifications_pool,
            env=self.env,
            control=self.control,
        )
        self.db: psycopg.Connection | None = None

    def __enter__(self) -> "Floor":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._migrate()
        try:
            self.sms_gateway.start()
            self.web.start()
            self.payments.start()
            self.provisioning.start()
            self.notifications.start()
            self.db = psycopg.connect(self.database_url, autocommit=True)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        """The web first (nothing new comes in), then the pools, then the gateway; TERM, wait,
        KILL, by PID, and any child a killed parent left behind."""
        parts = (self.web, self.payments, self.provisioning, self.notifications, self.sms_gateway)
        for part in parts:
            if part.process is None:
                continue
            children = []
            with contextlib.suppress(psutil.NoSuchProcess):
                children = psutil.Process(part.process.pid).children(recursive=True)
            part.stop()
            for child in children:
                with contextlib.suppress(psutil.NoSuchProcess):
                    child.kill()
        if self.db is not None:
            self.db.close()
            self.db = None
        self.control.close()

    def _migrate(self) -> None:
        log_path = self.workdir / "floor-migrate.log"
        with log_path.open("wb") as log:
            done = subprocess.run(
                [sys.executable, "-m", "django", "migrate", "--noinput"],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode:
            raise RuntimeError(f"the floor's migrate failed; see {log_path}")

    def processes(self) -> dict[str, int]:
        """The root PID of each part; the benchmark sums their process trees."""
        return {
            "floor web": self.web.process.pid,
            "floor payments pool": self.payments.process.pid,
            "floor provisioning pool": self.provisioning.process.pid,
            "floor notifications pool": self.notifications.process.pid,
            "floor SMS simulator": self.sms_gateway.process.pid,
        }

    def _rows(self, sql: str, *params) -> list[tuple]:
        return self.db.execute(sql, params).fetchall()

    def last_id(self) -> int:
        return self._rows("SELECT COALESCE(MAX(id), 0) FROM floor_purchase")[0][0]

    def waiting(self, count: int) -> list[int]:
        """``count`` new PENDING purchases, as if their pushes were sent: the ids to pay."""
        rows = self._rows(
            "INSERT INTO floor_purchase (phone, amount, status, created_at)"
            " SELECT '2547' || lpad(g::text, 8, '0'), 10.00, 'PENDING', now()"
            " FROM generate_series(1, %s) g RETURNING id",
            count,
        )
        return [row[0] for row in rows]

    def settled(self, since_id: int) -> dict[str, int]:
        """How many purchases after ``since_id`` are in each status."""
        rows = self._rows(
            "SELECT status, COUNT(*) FROM floor_purchase WHERE id > %s GROUP BY status", since_id
        )
        return dict(rows)

    def done(self, since_id: int) -> dict[str, int]:
        """How many purchases after ``since_id`` are on the router, have had their SMS sent,
        and have had its delivery reported."""
        provisioned, sent, delivered = self._rows(
            "SELECT COUNT(provisioned_at), COUNT(sms_sent_at), COUNT(sms_delivered_at)"
            " FROM floor_purchase WHERE id > %s",
            since_id,
        )[0]
        return {"provisioned": provisioned, "sms sent": sent, "sms delivered": delivered}

    def timings(self, since_id: int) -> tuple[list[float], list[float], list[float]]:
        """Milliseconds from purchase to FULFILLED, to the router, and to the SMS sent, of the
        purchases after ``since_id`` that got there."""
        rows = self._rows(
            "SELECT EXTRACT(EPOCH FROM fulfilled_at - created_at) * 1000,"
            " EXTRACT(EPOCH FROM provisioned_at - created_at) * 1000,"
            " EXTRACT(EPOCH FROM sms_sent_at - created_at) * 1000"
            " FROM floor_purchase WHERE id > %s ORDER BY id",
            since_id,
        )
        return tuple([float(row[i]) for row in rows if row[i] is not None] for i in range(3))
