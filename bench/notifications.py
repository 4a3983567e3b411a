"""Notifications: how fast a broadcast fans out, and how closely the shared SMS bucket keeps
to its rate, through real notifications pools and the Africa's Talking simulator.

1. Fan-out: a commission-rate broadcast to every member (a share of them chose SMS), consumed
   by one notifications pool of the queue table's size with SMS_RATE far above what it can
   send, so nothing is paced: notices written per second (in-app and SMS rows, from the
   broadcast's start to FINISHED), SMS per second at the simulator, and the pool's CPU per
   notice.
2. Bucket: SMS notices written in one transaction, consumed by two separate pools sharing
   one bucket at a low SMS_RATE with a burst of 1: the rate the simulator saw against the
   configured one, the most SMS in any second, and the task runs each SMS took (releases).

It runs in a database of its own, so its members are the only ones a broadcast reaches.
"""

import contextlib
import random
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connections, transaction

from apps.accounts.models import Member
from apps.common.bucket import Pace
from apps.demo.seed import members_seed
from apps.notifications.models import Broadcast, Channel, Notification, Preference, Status
from apps.notifications.services import broadcast_start, notify
from apps.ops import metrics
from bench.procstat import CpuMeter, Kind
from config import queues
from config.env import env
from devstack.processes import ServerProcess, WorkerProcess, wait_for

QUEUE = "notifications"
TASK = "tasks.notifications.deliver_sms"
KIND = "commission_rate_changed"
CONTEXT = {"level": 1, "old_rate": "10", "new_rate": "12"}
API_KEY, USERNAME = "bench-at-key", "sandbox"
UNPACED = "100000/1"  # far above what a pool sends: the bucket never makes one wait


def run(
    *,
    database: str,
    workdir: Path,
    members: int,
    sms_share: float,
    rate: str,
    count: int,
) -> list[dict]:
    settings.DEBUG = False  # dev settings would keep every query of the seeding in memory
    sim = ServerProcess(
        "simulators.africastalking",
        workdir / "at-sim.log",
        "--api-key",
        API_KEY,
        "--username",
        USERNAME,
        "--dlr-url",
        "",
    )
    with _using(database), _running(sim):
        call_command("migrate", verbosity=0)
        members_seed(members, random.Random(1))
        ids = list(Member.objects.order_by("pk").values_list("pk", flat=True)[:members])
        chosen = random.Random(2).sample(ids, round(len(ids) * sms_share))
        Preference.objects.bulk_create([Preference(member_id=pk, sms=True) for pk in chosen])
        rows = _fan_out(database, workdir, sim, members=len(ids), sms_members=len(chosen))
        _post(sim, "reset", {})
        rows += _bucket(database, workdir, sim, ids[:count], rate)
    return rows


def _fan_out(database: str, workdir: Path, sim, *, members: int, sms_members: int) -> list:
    pool = queues.policy(QUEUE).pool
    worker = _worker("notify@bench", workdir, database, sim, UNPACED, concurrency=pool)
    with _running(worker):
        meter = CpuMeter([Kind("pool", (worker.process.pid,), product=True)])
        before = meter.snapshot()
        started = time.time()
        with transaction.atomic():  # the first chunk is queued when this commits
            broadcast = broadcast_start(kind=KIND, context=CONTEXT, title="bench")
        finished = wait_for(
            lambda: Broadcast.objects.filter(
                pk=broadcast.pk, state=Broadcast.State.FINISHED
            ).first(),
            timeout=900,
            interval=0.2,
            what=f"the broadcast to finish; see {worker.log_path}",
        ).finished_at.timestamp()
        written = Notification.objects.filter(key__startswith=f"broadcast:{broadcast.pk}:")
        sms = written.filter(channel=Channel.SMS)
        sms_count = sms.count()
        _settled(sms, sms_count, worker)
        messages = _messages(sim, sms_count)
        cpu = meter.ms(before, meter.snapshot())["pool"]
    notices, sent = written.count(), sms.filter(status=Status.SENT).count()
    times = sorted(m["received_at"] for m in messages)
    took = finished - started
    at_gateway = _rate(times)
    last = times[-1] - started if times else float("nan")
    setup = f"1 pool of {pool} (prefork), SMS_RATE {UNPACED}: not paced"
    return [
        _row(
            "notifications: fan-out, notices written per second",
            f"{notices / took:,.0f} ({notices:,} in {took:.1f} s)",
            f"broadcast to {members:,} members, {sms_members:,} of them chose SMS: in-app and "
            f"SMS rows, start to FINISHED; chunks of {settings.NOTIFY_CHUNK:,}; {setup}",
        ),
        _row(
            "notifications: fan-out, SMS per second at the gateway",
            f"{at_gateway:,.0f}",
            f"first to last received at the simulator; {sent:,} of {sms_count:,} SENT",
        ),
        _row(
            "notifications: fan-out, SMS per second from the start",
            f"{len(times) / last:,.0f} (last at {last:.1f} s)",
            "broadcast start to the last SMS received, while the chunks are still written",
        ),
        _row(
            "notifications: fan-out, pool CPU ms per notice",
            f"{cpu / notices:.2f}",
            f"the pool's main process and children (/proc), writing and sending together: "
            f"{cpu / 1000:.1f} s of CPU",
        ),
    ]


def _bucket(database: str, workdir: Path, sim, ids: list[int], rate: str) -> list[dict]:
    pace = Pace.parse(rate, burst=1)
    configured = pace.rate.count / pace.rate.seconds
    workers = [
        _worker(f"notify-{name}@bench", workdir, database, sim, rate, concurrency=2)
        for name in ("a", "b")
    ]
    with contextlib.ExitStack() as running:
        for worker in workers:
            running.enter_context(_running(worker))
        runs_before = _runs()
        with transaction.atomic():  # all of them are queued when this commits
            written = [
                row.pk
                for m in Member.objects.filter(pk__in=ids)
                for row in notify(
                    member=m, kind=KIND, context={**CONTEXT, "name": m.name}, channels=["sms"]
                )
            ]
            started = time.time()
        count = len(written)
        sms = Notification.objects.filter(pk__in=written)
        _settled(sms, count, *workers, timeout=count / configured * 3 + 120)
        messages = _messages(sim, count)
        runs = {outcome: n - runs_before.get(outcome, 0) for outcome, n in _runs().items()}
    released_logged = sum(w.log().count("task.released") for w in workers)
    times = sorted(m["received_at"] for m in messages)
    observed = _rate(times)
    later = _rate(times[len(times) // 2 :])
    total = sum(runs.values())
    setup = f"SMS_RATE={rate}, SMS_BURST=1; 2 worker processes, pool 2 each, one bucket"
    return [
        _row("notifications: SMS bucket, configured rate (SMS/s)", f"{configured:g}", setup),
        _row(
            "notifications: SMS bucket, observed rate at the gateway (SMS/s)",
            f"{observed:.2f}",
            f"(count - 1) / (last - first received_at), {count} SMS written in one "
            f"transaction; the last arrived {times[-1] - started:.1f} s after they were queued",
        ),
        _row(
            "notifications: SMS bucket, observed rate over the second half (SMS/s)",
            f"{later:.2f}",
            "the same over the later half of the SMS: the backlog has become reservations",
        ),
        _row(
            "notifications: SMS bucket, accuracy (observed / configured)",
            f"{observed / configured:.3f}",
            "1.000 is exact; above 1 the bucket let more through than its rate",
        ),
        _row(
            "notifications: SMS bucket, most SMS in any 1 s window",
            str(_most_in_a_second(times)),
            f"at the simulator; the rate allows {configured:g} (burst 1)",
        ),
        _row(
            "notifications: SMS bucket, task runs per SMS",
            f"{total / count:.2f} ({runs.get('succeeded', 0)} sent, "
            f"{runs.get('released', 0)} released, {runs.get('retried', 0)} retried)",
            "runs of deliver_sms from the task metrics (each run counts one outcome); "
            f"the workers' logs show {released_logged} task.released",
        ),
    ]


def _worker(name: str, workdir: Path, database: str, sim, rate: str, *, concurrency: int):
    """A notifications pool as its supervisor program runs it, sending to the simulator."""
    return WorkerProcess(
        name,
        [QUEUE],
        workdir / f"{name.split('@')[0]}.log",
        concurrency=concurrency,
        env={
            "DATABASE_URL": database,
            "DJANGO_DEBUG": "false",
            "SMS_BACKEND": "apps.notifications.sms.AfricasTalkingBackend",
            "AFRICASTALKING_BASE_URL": sim.url,
            "AFRICASTALKING_API_KEY": API_KEY,
            "AFRICASTALKING_USERNAME": USERNAME,
            "SMS_SENDER_ID": "",
            "SMS_RATE": rate,
            "SMS_BURST": "1",
        },
        args=(
            f"--max-tasks-per-child={settings.WORKER_MAX_TASKS_PER_CHILD}",
            f"--max-memory-per-child={settings.WORKER_MAX_MEMORY_KB}",
        ),
    )


def _settled(sms, count: int, *workers, timeout: float = 600) -> None:
    """Wait until none of ``sms`` is pending or being sent."""
    busy = (Status.PENDING, Status.SENDING)
    logs = ", ".join(str(w.log_path) for w in workers)
    wait_for(
        lambda: not sms.filter(status__in=busy).exists(),
        timeout=timeout,
        interval=0.2,
        what=f"{count} SMS to be sent; see {logs}",
    )


def _messages(sim, count: int) -> list[dict]:
    return wait_for(
        lambda: len(m := _get(sim, "messages")) >= count and m,
        timeout=30,
        what=f"{count} messages at the SMS simulator",
    )


def _runs() -> dict[str, int]:
    return {
        outcome: n
        for (queue, task, outcome), n in metrics.counts().items()
        if queue == QUEUE and task == TASK
    }


def _rate(times: list[float]) -> float:
    """Arrivals per second between the first and the last of ``times`` (sorted)."""
    if len(times) < 2 or times[-1] == times[0]:
        return float("nan")
    return (len(times) - 1) / (times[-1] - times[0])


def _most_in_a_second(times: list[float]) -> int:
    best, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def _get(sim, what: str):
    import requests

    return requests.get(f"{sim.url}/simulator/{what}", timeout=10).json()


def _post(sim, what: str, body: dict) -> None:
    import requests

    requests.post(f"{sim.url}/simulator/{what}", json=body, timeout=10).raise_for_status()


@contextlib.contextmanager
def _using(database: str):
    """This process's default connection on ``database`` (same server and engine as the
    rest of the benchmark), back to the other afterwards."""
    conn = connections["default"]
    saved = conn.settings_dict["NAME"]
    conn.close()
    conn.settings_dict["NAME"] = env.db_url_config(database)["NAME"]
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict["NAME"] = saved


@contextlib.contextmanager
def _running(process):
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _row(measure: str, value: str, setup: str) -> dict:
    return {"measure": measure, "value": value, "setup": setup}
