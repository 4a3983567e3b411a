"""Workflows: what batch bookkeeping costs per job, on the queue-overhead benchmark's worker
(default queue, its pool, the production flags).

Each round drains the same no-op jobs three ways, in turn first: sent one by one; sent one by
one, each making one autocommitted UPDATE of a row they all share (the floor under any count
kept in the database at each job's end); and sent as one batch (apps/ops/batches.py), whose
jobs each count their outcome in the database. The CPU of the pool and of the database's server
over each drain is read from /proc; the difference per job from the plain drain is the cost.
A batch's drain ends once the batch has finished (its last count).
"""

import statistics
import time
import uuid
from functools import partial

from django.core.management import call_command
from django.db import transaction

from apps.ops.batches import batch_dispatch
from apps.ops.models import Batch
from bench.procstat import CpuMeter, Kind, postmaster_pid
from config import queues
from config.celery import app
from devstack.processes import WorkerProcess, wait_for

QUEUE = queues.DEFAULT


def run(worker: WorkerProcess, redis_client, jobs: int, rounds: int) -> list[dict]:
    from bench.tasks import noop_project, noop_write

    call_command("migrate", verbosity=0)
    roots = [Kind("pool", (worker.process.pid,), product=True)]
    if (postmaster := postmaster_pid()) is not None:
        roots.append(Kind("database", (postmaster,), product=True))
    meter = CpuMeter(roots)
    shared = str(Batch.objects.create(name="bench: the row each write updates", total=0).pk)
    variants = {
        "plain": lambda n: _plain(worker, redis_client, noop_project.s, n),
        "write": lambda n: _plain(worker, redis_client, partial(noop_write.s, shared), n),
        "batch": lambda n: _batch(worker, noop_project, n),
    }
    for drain in variants.values():
        drain(jobs // 10)  # warm every path
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    parts: dict[str, list[dict]] = {name: [] for name in variants}
    rate: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(rounds):
        order = list(variants.items())
        for name, drain in order if round_ % 2 else reversed(order):
            before = meter.snapshot()
            seconds = drain(jobs)
            spent = meter.ms(before, meter.snapshot())
            cpu[name].append(sum(spent.values()) / jobs)
            parts[name].append(spent)
            rate[name].append(jobs / seconds)

    def extra(name: str) -> float:
        return statistics.median(b - p for b, p in zip(cpu[name], cpu["plain"], strict=True))

    def split(name: str) -> str:
        return ", ".join(
            f"{k.name} {statistics.median(s[k.name] for s in parts[name]) / jobs:.2f} vs "
            f"{statistics.median(s[k.name] for s in parts['plain']) / jobs:.2f}"
            for k in roots
        )

    where = " + ".join(k.name for k in roots)
    setup = f"{jobs} no-op jobs x {rounds} rounds; pool {queues.policy(QUEUE).pool}; {where}"
    return [
        {
            "measure": "batch bookkeeping: CPU per job (ms, goal < 1)",
            "value": round(extra("batch"), 3),
            "setup": f"{setup}; batch minus plain, median of rounds (ms/job: {split('batch')})",
        },
        {
            "measure": "floor: one autocommitted UPDATE per job, CPU per job (ms)",
            "value": round(extra("write"), 3),
            "setup": f"{setup}; write minus plain (ms/job: {split('write')})",
        },
        {
            "measure": "batch: jobs/s in a batch / sent alone",
            "value": round(statistics.median(rate["batch"]) / statistics.median(rate["plain"]), 3),
            "setup": setup,
        },
    ]


def _paused(worker: WorkerProcess):
    app.control.cancel_consumer(QUEUE, destination=[worker.name], reply=True)


def _resume(worker: WorkerProcess) -> float:
    app.control.add_consumer(QUEUE, destination=[worker.name], reply=True)
    return time.perf_counter()


def _plain(worker, redis_client, job, count: int) -> float:
    """Drain ``count`` jobs sent one by one; ``job`` makes each one's signature."""
    done_key = f"bench:done:{uuid.uuid4().hex}"
    _paused(worker)
    for _ in range(count - 1):
        job().apply_async()
    job(done_key=done_key).apply_async()
    started = _resume(worker)
    if not redis_client.blpop(done_key, timeout=300):
        raise TimeoutError(f"{count} jobs not drained in 300 s; see {worker.log_path}")
    return time.perf_counter() - started


def _batch(worker, task, count: int) -> float:
    _paused(worker)
    with transaction.atomic():  # published on commit, while nothing consumes
        batch = batch_dispatch(name="bench", jobs=[task.si() for _ in range(count)])
    started = _resume(worker)
    wait_for(
        lambda: Batch.objects.filter(pk=batch.pk, finished_at__isnull=False).exists(),
        timeout=300,
        interval=0.01,
        what=f"a batch of {count} jobs to finish",
    )
    return time.perf_counter() - started
