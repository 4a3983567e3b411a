"""Real Celery workers in subprocesses, against the suite's Redis and test database."""

import base64
import json
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import psutil
from django.db import connection

from config import queues
from config.celery import app
from devstack.processes import WorkerProcess, wait_for

# Backoff in the test workers is the table's, scaled down: payments' 10 s, 30 s become 0.5 s, 1.5 s.
BACKOFF_SCALE = 0.05


def database_url() -> str:
    """The URL of the database the test run uses (the test database, once created)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class ProbeWorker(WorkerProcess):
    """A worker that also runs tests.support.probes, with the test settings and database."""

    def __init__(
        self, log_dir: Path, queue_names=queues.NAMES, concurrency: int = 1, env: dict | None = None
    ):
        name = f"test-{uuid.uuid4().hex[:8]}@conveyor"
        settings_env = {
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "TASK_BACKOFF_SCALE": str(BACKOFF_SCALE),
            "DJANGO_READ_DOT_ENV_FILE": "false",
        }
        super().__init__(
            name,
            list(queue_names),
            log_dir / f"{name}.log",
            include="tests.support.probes",
            concurrency=concurrency,
            env={**settings_env, **(env or {})},
        )

    def busy(self, redis_client, within: float = 10.0) -> list[str]:
        """What this worker has to do now: its queues' messages, its running and prefetched
        tasks, and those it holds for an ETA within ``within`` seconds (a retry's backoff)."""
        lengths = {q: redis_client.llen(q) for q in self.queue_names}
        busy = [f"{q}: {n} queued" for q, n in lengths.items() if n]
        inspect = app.control.inspect(destination=[self.name], timeout=2)
        horizon = datetime.now(UTC) + timedelta(seconds=within)
        soon = [
            t["request"]
            for t in (inspect.scheduled() or {}).get(self.name, [])
            if datetime.fromisoformat(t["eta"]) <= horizon
        ]
        for kind, tasks in [
            ("running", (inspect.active() or {}).get(self.name, [])),
            ("prefetched", (inspect.reserved() or {}).get(self.name, [])),
            ("due soon", soon),
        ]:
            busy += [f"{task['name']} ({kind})" for task in tasks]
        return busy

    def drain(self, redis_client, timeout: float = 60.0) -> None:
        """Wait until this worker has nothing to do now, seen twice in a row (a message taken
        from its queue is in neither the queue nor the worker's lists for an instant)."""
        seen = [["?"]]

        def idle() -> bool:
            seen.append(self.busy(redis_client))
            return seen[-2:] == [[], []]

        try:
            wait_for(idle, timeout=timeout, interval=0.1)
        except TimeoutError:
            left = seen[-1]
            raise TimeoutError(f"the worker did not finish what the test left it: {left}") from None

    def children(self) -> list[int]:
        stats = app.control.inspect(destination=[self.name], timeout=2).stats() or {}
        return stats[self.name]["pool"]["processes"]


def broker_holds(redis_client, task_id: str) -> bool:
    """Whether the message of ``task_id`` is still anywhere in Redis: queued or unacked."""
    queued = any(task_id in m for q in queues.NAMES for m in redis_client.lrange(q, 0, -1))
    unacked = any(task_id in m for m in redis_client.hvals("unacked"))
    return queued or unacked


def kill(worker: WorkerProcess) -> None:
    """SIGKILL a worker's main process and its pool at once, as a crash or the OOM killer
    would, and reap it."""
    main = psutil.Process(worker.process.pid)
    for process in [main, *main.children(recursive=True)]:
        process.send_signal(signal.SIGKILL)
    worker.process.wait()


class Held(NamedTuple):
    task: str
    id: str
    kwargs: dict


def held(redis_client, queue: str) -> dict[str, Held]:
    """The messages of ``queue`` delivered to a worker and not acknowledged yet, by delivery
    tag (kombu keeps each in the ``unacked`` hash until its ack)."""
    found = {}
    for tag, value in redis_client.hgetall("unacked").items():
        message, _exchange, routing_key = json.loads(value)
        if routing_key == queue:
            headers = message["headers"]
            kwargs = json.loads(base64.b64decode(message["body"]))[1]
            found[str(tag)] = Held(headers["task"], headers["id"], kwargs)
    return found


def kill_holding(
    worker: WorkerProcess, redis_client, queue: str, before: set, task: str | None = None
) -> list[Held]:
    """SIGKILL ``worker`` while it holds a message of ``queue`` (of ``task``, if given; other
    than the delivery tags in ``before``) and return what it held then. The worker is frozen
    (SIGSTOP) before the hash is read, so a message acknowledged between the look and the kill
    cannot slip by: if it let go of everything meanwhile, it is thawed and watched again."""

    def holding() -> list[Held]:
        new = [m for tag, m in held(redis_client, queue).items() if tag not in before]
        return [m for m in new if task is None or m.task == task]

    deadline = time.monotonic() + 60
    while True:
        remaining = max(deadline - time.monotonic(), 0.1)
        wait_for(holding, timeout=remaining, interval=0.005, what=f"a {queue} message held")
        tree = _signal_tree(worker, signal.SIGSTOP)
        if holding():
            kill(worker)  # SIGKILL reaches stopped processes too
            after = held(redis_client, queue)
            return [after[tag] for tag in after.keys() - before]
        for process in tree:
            process.send_signal(signal.SIGCONT)


def _signal_tree(worker: WorkerProcess, sig) -> list[psutil.Process]:
    main = psutil.Process(worker.process.pid)
    tree = [main, *main.children(recursive=True)]
    for process in tree:
        process.send_signal(sig)
    return tree
