"""`make up` end to end: manage.py up on a machine where nothing answers at REDIS_URL.

Every program reaches RUNNING under supervisord, /healthz answers 200, a ping sent to
each queue is run by that queue's pool, Flower wants its login and lists the five pools,
and SIGINT (Ctrl-C) stops every process it started.
"""

import json
from pathlib import Path

import psutil
import pytest

from config import queues
from devstack.processes import wait_for
from devstack.stack import Stack
from tests.support.web import http

PROGRAMS = {
    "redis",
    "daraja-sim",
    "africastalking-sim",
    "routeros-sim",
    "web",
    "beat",
    "flower",
    *(f"workers:worker-{n}" for n in queues.NAMES),
}


@pytest.fixture
def stack(tmp_path):
    stack = Stack(tmp_path).start()
    yield stack
    stack.kill()


def test_up_runs_everything_and_ctrl_c_stops_it_all(stack):
    env = stack.env
    assert stack.wait_running(PROGRAMS) >= PROGRAMS

    web = f"http://127.0.0.1:{env['WEB_PORT']}"
    code, body = http(f"{web}/healthz")
    assert code == 200 and json.loads(body)["status"] == "ok"

    ping = stack.manage("queue_ping", "--json", "--timeout", "30")
    assert ping.returncode == 0, ping.stdout + ping.stderr
    for row in json.loads(ping.stdout):
        assert row["worker"].startswith(f"{row['queue']}@"), row

    # A purchase through the whole stack: web, payments pool, the simulator calling back.
    simulated = stack.manage(
        "simulate_payments", "--count", "5", "--rate", "5", "--timeout", "60", "--json"
    )
    assert simulated.returncode == 0, simulated.stdout + simulated.stderr
    figures = {row["measure"]: row["value"] for row in json.loads(simulated.stdout)}
    assert figures["purchases accepted (202)"] == 5
    assert figures["stuck (pending or paid at the end)"] == 0
    settled = sum(figures[k] for k in ("fulfilled (paid and handed off)", "failed", "cancelled"))
    assert settled == 5
    # ... and each fulfilled one became a hotspot user on the (simulated) demo router.
    control = f"http://127.0.0.1:{int(env['ROUTER_SIM_PORT']) + 1000}/state"
    fulfilled = figures["fulfilled (paid and handed off)"]
    wait_for(
        lambda: len(json.loads(http(control)[1])["users"]) == fulfilled,
        timeout=60,
        interval=0.5,
        what="the fulfilled purchases to reach the router",
    )

    flower = f"http://127.0.0.1:{env['FLOWER_PORT']}/flower"
    assert http(f"{flower}/")[0] == 401
    credentials = (Path(env["VAR_DIR"]) / "flower-dev-credentials").read_text().strip()
    assert credentials in stack.log.read_text()  # printed for the developer
    assert http(f"{flower}/", auth="admin:wrong")[0] == 401

    def flower_pools():
        code, body = http(f"{flower}/api/workers?refresh=1", auth=credentials)
        return code == 200 and {name.split("@")[0] for name in json.loads(body)}

    assert wait_for(
        lambda: flower_pools() == set(queues.NAMES),
        timeout=60,
        interval=1,
        what="Flower to list the five pools",
    )

    started = psutil.Process(stack.process.pid).children(recursive=True)
    assert len(started) >= len(PROGRAMS)
    assert stack.stop(timeout=120) == 0  # Ctrl-C
    survivors = [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
