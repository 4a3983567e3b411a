"""Queue overhead: no-op throughput through the project's Task class against a bare Celery
Task, on one worker with the default queue's pool and the production worker flags.

The project's side includes what every run costs it: metrics and the run log (recent jobs and
timelines, apps/ops/runs.py), one Redis round trip each.

Each round stops the worker consuming, publishes a batch, starts consuming and times the
drain, so publishing is not measured. Each round runs both task classes, in turn first.
"""

import statistics
import time
import uuid

from bench.procstat import CpuMeter, Kind
from config import queues
from config.celery import app
from devstack.processes import WorkerProcess

QUEUE = queues.DEFAULT


def run(worker: WorkerProcess, redis_client, batch: int, rounds: int) -> list[dict]:
    from bench.tasks import noop_bare, noop_project, noop_unlogged

    variants = {
        "bare Celery Task": noop_bare,
        "Conveyor Task": noop_project,
        "Conveyor Task, run log off": noop_unlogged,
    }
    for task in variants.values():  # warm every code path and the pool
        _drain(worker, redis_client, task, batch // 10)
    redis_pid = int(redis_client.info("server")["process_id"])
    meter = CpuMeter([Kind("pool", (worker.process.pid,), True), Kind("redis", (redis_pid,), True)])
    rates: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[dict]] = {name: [] for name in variants}
    for round_ in range(rounds):
        order = list(variants.items())
        for name, task in order if round_ % 2 else reversed(order):  # no first-mover bias
            before = meter.snapshot()
            rates[name].append(_drain(worker, redis_client, task, batch))
            cpu[name].append(meter.ms(before, meter.snapshot()))
    bare, ours, unlogged = (statistics.median(rates[n]) for n in variants)
    per_task = {
        name: {k: statistics.median(c[k] for c in cpu[name]) / batch for k in ("pool", "redis")}
        for name in variants
    }
    pool = queues.policy(QUEUE).pool
    events = "on" if app.conf.worker_send_task_events else "off"
    setup = (
        f"{batch} no-op tasks x {rounds} rounds; 1 worker, pool {pool}, prefetch 1, "
        f"acks_late, task events {events}"
    )
    logged = "every run recorded in the run log (recent jobs, timelines)"
    return [
        {
            "measure": "queue overhead: bare Celery no-op (tasks/s, median)",
            "value": round(bare),
            "setup": setup,
        },
        {
            "measure": "queue overhead: Conveyor Task no-op (tasks/s, median)",
            "value": round(ours),
            "setup": f"{setup}; {logged}",
        },
        {
            "measure": "queue overhead: Conveyor Task no-op, run log off (tasks/s, median)",
            "value": round(unlogged),
            "setup": f"{setup}; the same task with run_log = False",
        },
        {
            "measure": "queue overhead: Conveyor / bare throughput (goal >= 0.80)",
            "value": round(ours / bare, 3),
            "setup": f"ratio of the two medians, same run; {logged}",
        },
        *(
            {
                "measure": f"queue overhead: CPU per task, {name} (ms, pool + redis)",
                "value": round(c["pool"] + c["redis"], 3),
                "setup": f"pool {c['pool']:.3f} + redis {c['redis']:.3f}, medians of rounds",
            }
            for name, c in per_task.items()
        ),
        {
            "measure": "queue overhead: what the run log costs the ratio",
            "value": round((unlogged - ours) / bare, 3),
            "setup": "(run log off - on) / bare, medians of the same run",
        },
    ]


def _drain(worker: WorkerProcess, redis_client, task, count: int) -> float:
    """Tasks per second for ``count`` messages already waiting in the queue."""
    done_key = f"bench:done:{uuid.uuid4().hex}"
    app.control.cancel_consumer(QUEUE, destination=[worker.name], reply=True)
    for _ in range(count - 1):
        task.apply_async()
    task.apply_async(kwargs={"done_key": done_key})
    started = time.perf_counter()
    app.control.add_consumer(QUEUE, destination=[worker.name], reply=True)
    if not redis_client.blpop(done_key, timeout=300):
        raise TimeoutError(f"{count} tasks not drained in 300 s; see {worker.log_path}")
    return count / (time.perf_counter() - started)
