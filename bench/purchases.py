"""Purchases at steady offered rates, the product and its floor measured alternately in one run.

For each rate, each target gets the same window: purchases sent open loop (answers do not
slow the sender) for ``seconds``, then waited for until every accepted one is on the router
and the gateway has reported its buyer's SMS delivered (the last of a purchase's work).
Over the window (sending and draining) each kind of process's CPU is read from /proc, with the
Redis commands and PostgreSQL transactions of the target's own server and database, and the
SMS the target's own gateway (simulator) took. Latencies come from the database's timestamps:
purchase to FULFILLED, to on the router, to the SMS sent.
"""

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psycopg
import redis
import requests

from apps.common.stats import percentile
from bench import http_load
from bench.procstat import CpuMeter, Kind, pg_counts, postmaster_pid, redis_commands
from devstack.processes import wait_for

# A backend reports its transaction counts within 10 s of going idle (procstat.pg_counts).
PG_STATS_SETTLE = 11
GOAL_P99_MS = 1000
WARM_UP_RATE, WARM_UP_SECONDS, WARM_UP_RUN = 10, 3, 99
GOAL_ROUTER_P99_MS = 1500


@dataclass
class Window:
    target: str
    rate: float
    offered: int
    accepted: int
    accept_ms: list[float]
    fulfilled_ms: list[float]
    router_ms: list[float]
    sms_ms: list[float]
    sms_at_gateway: int
    cpu_ms: dict[str, float]
    product_kinds: set[str]
    redis_commands: int
    pg_transactions: int
    pg_sessions: int
    settled: dict[str, int] = field(default_factory=dict)

    @property
    def sms_delivered(self) -> int:
        return self.settled.get("sms delivered", 0)

    def per_purchase(self, total: float) -> float:
        return total / self.accepted if self.accepted else float("nan")

    @property
    def product_cpu(self) -> float:
        """CPU ms per purchase of the target's own processes."""
        own = sum(ms for kind, ms in self.cpu_ms.items() if kind in self.product_kinds)
        return self.per_purchase(own)

    @property
    def sustained(self) -> bool:
        """Every purchase settled once (its SMS taken by the gateway once and delivered), p99 to
        FULFILLED under 1 s, on the router under 1.5 s."""
        return (
            self.accepted == self.offered
            and len(self.fulfilled_ms) == self.accepted
            and len(self.router_ms) == self.accepted
            and self.sms_at_gateway == self.sms_delivered == self.accepted
            and percentile(self.fulfilled_ms, 99) < GOAL_P99_MS
            and percentile(self.router_ms, 99) < GOAL_ROUTER_P99_MS
        )


class Target(Protocol):
    """What the harness needs of a system under test."""

    name: str
    web_port: int
    purchase_path: str
    database: str
    sms_gateway: str  # the URL of the target's own Africa's Talking simulator

    def kinds(self) -> list[Kind]: ...
    def redis(self) -> redis.Redis: ...
    def start_run(self, run: int) -> object: ...
    def body(self, run: int, i: int) -> bytes: ...
    def settled(self, marker, accepted: int) -> bool: ...
    def results(self, marker) -> tuple[dict, list[float], list[float], list[float]]: ...


def gateway_messages(url: str) -> int:
    """How many messages an Africa's Talking simulator has taken since it started."""
    answer = requests.get(f"{url}/simulator/state", timeout=5)
    answer.raise_for_status()
    return int(answer.json()["counts"]["messages"])


def shared_kinds() -> list[Kind]:
    """PostgreSQL serves both targets (each its own database); the load is this process."""
    kinds = [Kind("load generator", (os.getpid(),), product=False, alone=True)]
    if (pid := postmaster_pid()) is not None:
        kinds.append(Kind("PostgreSQL", (pid,), product=True))
    return kinds


def measure(target: Target, rate: float, seconds: float, run: int, pg) -> Window:
    meter = CpuMeter(target.kinds() + shared_kinds())
    client = target.redis()
    count = max(1, int(rate * seconds))
    purchases = [(target.purchase_path, target.body(run, i)) for i in range(count)]
    marker = target.start_run(run)
    redis_before, pg_before = redis_commands(client), pg_counts(pg, target.database)
    sms_before = gateway_messages(target.sms_gateway)
    cpu_before = meter.snapshot()
    results, _ = http_load.open_loop("127.0.0.1", target.web_port, purchases, rate)
    accepted = [r for r in results if r.status in (200, 202)]
    wait_for(
        lambda: target.settled(marker, len(accepted)),
        timeout=900,
        interval=0.5,
        what=f"{target.name}'s purchases at {rate}/s to be on the router, their SMS delivered",
    )
    cpu_after = meter.snapshot()
    sms_after = gateway_messages(target.sms_gateway)
    redis_after = redis_commands(client)
    time.sleep(PG_STATS_SETTLE)  # not synchronisation: PostgreSQL's statistics lag
    pg_after = pg_counts(pg, target.database)
    settled, fulfilled_ms, router_ms, sms_ms = target.results(marker)
    return Window(
        target=target.name,
        rate=rate,
        offered=count,
        accepted=len(accepted),
        accept_ms=[r.ms for r in accepted],
        fulfilled_ms=fulfilled_ms,
        router_ms=router_ms,
        sms_ms=sms_ms,
        sms_at_gateway=sms_after - sms_before,
        cpu_ms=meter.ms(cpu_before, cpu_after),
        product_kinds={k.name for k in meter.kinds if k.product},
        redis_commands=sum(redis_after.values()) - sum(redis_before.values()),
        pg_transactions=pg_after["transactions"] - pg_before["transactions"],
        pg_sessions=pg_after["sessions"] - pg_before["sessions"],
        settled=settled,
    )


def compare(targets: list[Target], rates: list[float], seconds: float, pg_url: str) -> list:
    """Each rate for every target, the order swapped at each rate so neither always goes
    first on a host that drifts."""
    windows = []
    with psycopg.connect(pg_url, autocommit=True) as pg:
        for target in targets:  # first runs fill caches, pools and connections: not counted
            measure(target, WARM_UP_RATE, WARM_UP_SECONDS, WARM_UP_RUN, pg)
        for run, rate in enumerate(rates):
            order = targets if run % 2 == 0 else list(reversed(targets))
            for target in order:
                windows.append(measure(target, rate, seconds, run, pg))
                print(summary_line(windows[-1]), flush=True)
    return windows


def summary_line(w: Window) -> str:
    return (
        f"{w.target} at {w.rate:g}/s: {w.accepted}/{w.offered} accepted, FULFILLED p99 "
        f"{percentile(w.fulfilled_ms, 99):.0f} ms, {w.product_cpu:.1f} CPU ms per purchase"
    )


# --- the product, as `make up` runs it ----------------------------------------------------

PID = re.compile(r"\bpid (\d+)")
# A purchase's work runs in these programs; the window would not see all of it without them.
PURCHASE_PROGRAMS = (
    "web",
    "worker-payments",
    "worker-provisioning",
    "worker-notifications",
    "daraja-sim",
    "routeros-sim",
    "africastalking-sim",
)


def stack_pids(stack) -> dict[str, int]:
    """Program (without its group) -> PID, of the stack's running programs."""
    pids = {}
    for line in stack.supervisorctl("status").stdout.splitlines():
        if found := PID.search(line):
            pids[line.split()[0].split(":")[-1]] = int(found.group(1))
    return pids


class Product:
    name = "Conveyor"
    purchase_path = "/api/purchases/"

    def __init__(self, stack, database: str):
        self.stack = stack
        self.web_port = stack.web_port
        self.database = database
        self.sms_gateway = stack.env["AFRICASTALKING_BASE_URL"]
        missing = set(PURCHASE_PROGRAMS) - set(stack_pids(stack))
        if missing:
            raise RuntimeError(f"the stack does not run {', '.join(sorted(missing))}")

    def kinds(self) -> list[Kind]:
        pids = stack_pids(self.stack)

        def of(*programs: str) -> tuple[int, ...]:
            return tuple(pid for name, pid in pids.items() if name in programs)

        pools = ("worker-payments", "worker-provisioning", "worker-notifications")
        others = [p for p in pids if p.startswith("worker-") and p not in pools]
        supervisord = int((Path(self.stack.var) / "run" / "supervisord.pid").read_text())
        return [
            Kind("web", of("web"), product=True),
            Kind("payments pool", of("worker-payments"), product=True),
            Kind("provisioning pool", of("worker-provisioning"), product=True),
            Kind("notifications pool", of("worker-notifications"), product=True),
            Kind("other pools", of(*others), product=True),
            Kind("beat + Flower", of("beat", "flower"), product=True),
            Kind("Redis", of("redis"), product=True),
            Kind("supervisord", (supervisord,), product=True, alone=True),
            Kind(
                "simulators",
                of("daraja-sim", "routeros-sim", "africastalking-sim", "stripe-sim"),
                product=False,
            ),
        ]

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.stack.env["REDIS_URL"])

    def start_run(self, run: int) -> str:
        return f"2547{run:02d}"  # this run's buyers' phones begin so

    def body(self, run: int, i: int) -> bytes:
        return json.dumps({"phone": f"2547{run:02d}{i:06d}", "package": "1h"}).encode()

    def settled(self, prefix: str, accepted: int) -> bool:
        from apps.notifications.models import Status
        from apps.provisioning.models import Subscription

        done = Subscription.objects.filter(
            payment__phone__startswith=prefix, status=Subscription.Status.PROVISIONED
        )
        # The SMS only once every purchase is on the router: one count a poll till then.
        return done.count() >= accepted and (
            _credentials(prefix).filter(status=Status.DELIVERED).count() >= accepted
        )

    def results(self, prefix: str) -> tuple[dict, list[float], list[float], list[float]]:
        from django.db.models import Count

        from apps.notifications.models import Status
        from apps.payments.models import Payment
        from apps.provisioning.models import Subscription

        payments = Payment.objects.filter(phone__startswith=prefix)
        states = dict(payments.values_list("status").annotate(n=Count("id")).order_by())
        subscriptions = Subscription.objects.filter(payment__phone__startswith=prefix)
        states["subscriptions"] = subscriptions.count()
        sms = _credentials(prefix)
        states["sms sent"] = sms.exclude(sent_at=None).count()
        states["sms delivered"] = sms.filter(status=Status.DELIVERED).count()
        fulfilled = [
            (done - made).total_seconds() * 1000
            for made, done in payments.values_list("created_at", "fulfilled_at")
            if done
        ]
        on_router = [
            (done - made).total_seconds() * 1000
            for made, done in subscriptions.values_list("payment__created_at", "provisioned_at")
            if done
        ]
        # A buyer's phone is unique within a run: the SMS to +<phone> is that purchase's.
        made_at = {f"+{phone}": made for phone, made in payments.values_list("phone", "created_at")}
        sms_sent = [
            (sent - made_at[address]).total_seconds() * 1000
            for address, sent in sms.values_list("address", "sent_at")
            if sent and address in made_at
        ]
        return states, fulfilled, on_router, sms_sent


def _credentials(prefix: str):
    """The WiFi-credentials SMS to the buyers whose phones begin with ``prefix``."""
    from apps.notifications.models import Channel, Notification

    return Notification.objects.filter(
        kind="wifi_credentials", channel=Channel.SMS, address__startswith=f"+{prefix}"
    )


# --- the floor (bench/floor) ---------------------------------------------------------------


class FloorTarget:
    name = "floor"

    def __init__(self, floor, redis_server, database: str, stack):
        self.floor = floor
        self.redis_server = redis_server
        self.web_port = floor.web_port
        self.purchase_path = floor.purchase_path
        self.database = database
        self.sms_gateway = floor.sms_gateway.url
        self.stack = stack  # whose Daraja and RouterOS simulators the floor uses too

    def kinds(self) -> list[Kind]:
        pids = self.floor.processes()
        shared = stack_pids(self.stack)
        simulators = (pids["floor SMS simulator"], shared["daraja-sim"], shared["routeros-sim"])
        return [
            Kind("web", (pids["floor web"],), product=True),
            Kind("payments pool", (pids["floor payments pool"],), product=True),
            Kind("provisioning pool", (pids["floor provisioning pool"],), product=True),
            Kind("notifications pool", (pids["floor notifications pool"],), product=True),
            Kind("Redis", (self.redis_server.process.pid,), product=True),
            Kind("simulators", simulators, product=False),
        ]

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_server.url)

    def start_run(self, run: int) -> int:
        return self.floor.last_id()

    def body(self, run: int, i: int) -> bytes:
        return json.dumps({"phone": f"2547{run:02d}{i:06d}", "package": "1h"}).encode()

    def settled(self, since_id: int, accepted: int) -> bool:
        done = self.floor.done(since_id)
        return done["provisioned"] >= accepted and done["sms delivered"] >= accepted

    def results(self, since_id: int) -> tuple[dict, list[float], list[float], list[float]]:
        fulfilled, on_router, sms_sent = self.floor.timings(since_id)
        states = {**self.floor.settled(since_id), **self.floor.done(since_id)}
        return states, fulfilled, on_router, sms_sent


# --- the report ----------------------------------------------------------------------------


def _pcts(values: list[float]) -> str:
    return " / ".join(f"{percentile(values, q):.0f}" for q in (50, 95, 99))


def tables(windows: list[Window]) -> str:
    """The rates table (latencies, SMS, CPU, counts, ratio) and CPU per purchase by process
    kind. "SMS per purchase" is what the target's gateway took over the window and what it
    reported delivered, each per accepted purchase: 1.00 / 1.00 is every buyer texted once."""
    floor = {w.rate: w for w in windows if w.target == "floor"}
    lines = [
        "| rate /s | target | accepted | FULFILLED p50/p95/p99 ms | on router p50/p95/p99 ms "
        "| SMS sent p50/p95/p99 ms | SMS per purchase: at gateway / delivered "
        "| own CPU ms/purchase | x floor | Redis cmds/purchase | PG xacts/purchase | sustained |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for w in windows:
        base = floor.get(w.rate)
        ratio = f"{w.product_cpu / base.product_cpu:.2f}" if base and w is not base else ""
        sms = f"{w.per_purchase(w.sms_at_gateway):.2f} / {w.per_purchase(w.sms_delivered):.2f}"
        lines.append(
            f"| {w.rate:g} | {w.target} | {w.accepted}/{w.offered} | {_pcts(w.fulfilled_ms)} "
            f"| {_pcts(w.router_ms)} | {_pcts(w.sms_ms)} | {sms} | {w.product_cpu:.1f} | {ratio} "
            f"| {w.per_purchase(w.redis_commands):.1f} | {w.per_purchase(w.pg_transactions):.1f} "
            f"| {'yes' if w.sustained else 'no'} |"
        )
    kinds = list(dict.fromkeys(k for w in windows for k in w.cpu_ms))
    lines += [
        "",
        "CPU ms per purchase by process kind (* not the product's own: listed apart)",
        "",
        "| rate /s | target | "
        + " | ".join(k + ("" if _own(windows, k) else " *") for k in kinds)
        + " |",
        "|---|---|" + "---|" * len(kinds),
    ]
    for w in windows:
        cells = [f"{w.per_purchase(w.cpu_ms[k]):.1f}" if k in w.cpu_ms else "" for k in kinds]
        lines.append(f"| {w.rate:g} | {w.target} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _own(windows: list[Window], kind: str) -> bool:
    return any(kind in w.product_kinds for w in windows)


def goals(windows: list[Window], product: str = "Conveyor", cores: int = 2) -> list[dict]:
    """The issue's goals from one run: the CPU ratio below saturation (with its spread over the
    rates measured there), and the sustained capacity against what the CPU budget allows."""
    ours = [w for w in windows if w.target == product]
    floor = {w.rate: w for w in windows if w.target == "floor"}
    below = [w for w in ours if w.sustained and w.rate in floor]
    ratios = [w.product_cpu / floor[w.rate].product_cpu for w in below]
    saturated = [w.rate for w in ours if not w.sustained]
    rows = [
        {
            "measure": "purchases: saturation starts at (offered /s)",
            "value": f"{min(saturated):g}" if saturated else f"above {max(w.rate for w in ours):g}",
            "setup": "the lowest rate at which p99 to FULFILLED >= 1 s, on the router >= 1.5 s, "
            "or a purchase (or its SMS) was refused, lost or doubled",
        }
    ]
    for name in (product, "floor"):
        mine = [w for w in windows if w.target == name]
        accepted = sum(w.accepted for w in mine)
        taken, delivered = (sum(w.sms_at_gateway for w in mine), sum(w.sms_delivered for w in mine))
        rows.append(
            {
                "measure": f"purchases: SMS per purchase, {name} (at the gateway / delivered)",
                "value": f"{taken / accepted:.2f} / {delivered / accepted:.2f}",
                "setup": f"{taken} SMS taken by its gateway and {delivered} reported delivered "
                f"for {accepted} purchases over the windows; 1.00 / 1.00: each buyer once",
            }
        )
    if not below:
        return rows
    top = max(below, key=lambda w: w.rate)
    budget = cores * 1000 / top.product_cpu
    rows += [
        {
            "measure": "purchases: own CPU per purchase, Conveyor / floor",
            "value": f"{ratios[below.index(top)]:.2f}",
            "setup": f"at {top.rate:g}/s ({top.product_cpu:.1f} / "
            f"{floor[top.rate].product_cpu:.1f} ms); spread over the rates below saturation "
            f"{min(ratios):.2f}-{max(ratios):.2f}; goal <= 1.5: "
            f"{'met' if ratios[below.index(top)] <= 1.5 else 'NOT MET'}",
        },
        {
            "measure": "purchases: sustained capacity / CPU budget rate",
            "value": f"{top.rate / budget:.2f}",
            "setup": f"{top.rate:g}/s sustained (p99 FULFILLED "
            f"{percentile(top.fulfilled_ms, 99):.0f} ms, on router "
            f"{percentile(top.router_ms, 99):.0f} ms) of {budget:.0f}/s that "
            f"{cores} cores allow at {top.product_cpu:.1f} ms; goal >= 0.67: "
            f"{'met' if top.rate / budget >= 0.67 else 'NOT MET'}",
        },
    ]
    return rows
