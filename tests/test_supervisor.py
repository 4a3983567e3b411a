"""Worker pools under a real supervisord started with the project's own files (manage.py
up): stopping a pool, killing it, and `make reload` lose no task and run none twice."""

import base64
import json
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import psutil
import pytest
import redis

from config import queues
from config.celery import app
from config.env import BASE_DIR
from devstack.processes import wait_for
from devstack.stack import Stack

POOLS = {f"workers:worker-{n}" for n in queues.NAMES}
PAYMENTS = "workers:worker-payments"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    process = Stack(
        tmp_path_factory.mktemp("supervised"),
        WORKER_EXTRA_IMPORTS="tests.support.probes",
        BROKER_VISIBILITY_TIMEOUT="8",  # what a killed pool held comes back within the test
        DEMO_MEMBERS="0",
    ).start()
    process.wait_running(POOLS | {"web", "beat", "flower"})
    # This process publishes to the stack's broker while these tests run, then to the suite's.
    suites = app.conf.broker_url
    app.conf.broker_url = process.env["REDIS_URL"]
    app._after_fork()
    yield process
    app.conf.broker_url = suites
    app._after_fork()
    process.kill()


@pytest.fixture
def broker(stack):
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    yield client
    client.close()


def running(stack: Stack) -> set[str]:
    return {name for name, state in stack.status().items() if state == "RUNNING"}


def send(key: str, numbers, seconds: float) -> None:
    for n in numbers:
        app.send_task("tests.support.probes.sleepy", args=[key, n, seconds], queue="payments")


def done(broker, key: str) -> Counter:
    return Counter(int(n) for n in broker.lrange(key, 0, -1))


def _carries(raw: bytes, key: str) -> bool:
    message = json.loads(raw)
    if isinstance(message, list):  # an unacked entry: [message, exchange, routing key]
        message = message[0]
    return key in base64.b64decode(message["body"]).decode()


def waiting(broker, key: str) -> int:
    """Our messages in the payments queue."""
    return sum(_carries(m, key) for m in broker.lrange("payments", 0, -1))


def unacked(broker, key: str) -> int:
    """Our messages delivered to a worker and not acknowledged yet."""
    return sum(_carries(m, key) for m in broker.hvals("unacked"))


def test_every_program_runs(stack):
    assert running(stack) >= POOLS | {"web", "beat", "flower", "redis"}


def test_stopping_a_pool_mid_burst_loses_nothing_and_starting_it_runs_the_rest(stack, broker):
    key = "supervised:stop"
    send(key, range(50), 0.3)
    wait_for(lambda: len(done(broker, key)) >= 8, timeout=60, what="the burst under way")
    stopped = stack.supervisorctl("stop", PAYMENTS)  # TERM: a warm shutdown
    assert "stopped" in stopped.stdout, stopped.stdout + stopped.stderr
    finished = done(broker, key)
    assert max(finished.values()) == 1
    assert unacked(broker, key) == 0  # what the pool had reserved went back to the queue
    assert len(finished) + waiting(broker, key) == 50  # every task: done, or waiting

    stack.supervisorctl("start", PAYMENTS)
    wait_for(lambda: len(done(broker, key)) == 50, timeout=120, what="the rest to run")
    assert set(done(broker, key)) == set(range(50)) and max(done(broker, key).values()) == 1


def test_a_pool_killed_with_sigkill_is_restarted_and_runs_what_it_held_once(stack, broker):
    key = "supervised:kill"
    send(key, range(30), 1.0)
    wait_for(lambda: unacked(broker, key) >= 4, timeout=60, what="the pool to hold tasks")
    main = psutil.Process(int(stack.supervisorctl("pid", PAYMENTS).stdout))
    children = main.children(recursive=True)
    main.send_signal(signal.SIGKILL)
    wait_for(lambda: not any(c.is_running() for c in children), what="its children to die too")

    def restarted() -> bool:
        pid = stack.supervisorctl("pid", PAYMENTS).stdout.strip()
        return pid.isdigit() and int(pid) not in (0, main.pid)

    wait_for(restarted, timeout=60, what="supervisor to restart the pool")
    wait_for(lambda: len(done(broker, key)) == 30, timeout=180, what="every task, held ones too")
    wait_for(
        lambda: waiting(broker, key) + unacked(broker, key) == 0,
        timeout=30,
        what="nothing of ours left in Redis",
    )
    assert set(done(broker, key)) == set(range(30)) and max(done(broker, key).values()) == 1


def test_make_reload_during_a_steady_stream_loses_and_doubles_nothing(stack, broker):
    key = "supervised:reload"
    sent, stop = [], threading.Event()

    def stream():
        n = 0
        while not stop.is_set():
            send(key, [n], 0.05)
            sent.append(n)
            n += 1
            stop.wait(0.05)  # about 20 tasks a second

    producer = threading.Thread(target=stream)
    producer.start()
    try:
        wait_for(lambda: len(done(broker, key)) >= 20, timeout=60, what="the stream flowing")
        reload = subprocess.run(
            ["make", "reload", f"BIN={Path(sys.executable).parent}"],
            cwd=BASE_DIR,
            env=stack.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert reload.returncode == 0, reload.stdout + reload.stderr
        assert "Reloaded" in reload.stdout
    finally:
        stop.set()
        producer.join()
    wait_for(lambda: len(done(broker, key)) == len(sent), timeout=120, what="every task sent")
    assert set(done(broker, key)) == set(sent) and max(done(broker, key).values()) == 1
    assert running(stack) >= POOLS | {"web", "beat", "flower"}
