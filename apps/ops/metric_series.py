"""The metrics screen's figures over time, per queue or for all of them, from the buckets
apps/ops/metrics.py records: one point per ``step`` minutes, read in one pipeline."""

import time
from collections import Counter
from itertools import islice

from apps.common import redis_client
from apps.ops import metrics
from config import queues

# range name -> (minutes shown, minutes per point)
RANGES = {"1h": (60, 1), "24h": (24 * 60, metrics.ROLLUP)}


def series(*, queue: str | None, minutes: int = 60, step: int = 1, now: float | None = None):
    """Points every ``step`` minutes (1, or a multiple of ROLLUP) over the last ``minutes``,
    the current one last and partial: ``t`` (their start, epoch s), ``throughput`` (tasks
    finished per minute, succeeded or failed), ``failures`` (failed in the point),
    ``wait_max_s`` (longest wait of a run started in it) and ``runtime_p95_s``; ``totals``
    over the whole range. ``queue`` None: every queue of the table."""
    span = 1 if step < metrics.ROLLUP else metrics.ROLLUP
    if step < 1 or step % span:
        raise ValueError(f"step must be 1 or a multiple of {metrics.ROLLUP}, not {step}")
    current = int((time.time() if now is None else now) // 60)
    first = (current - minutes + 1) // step * step
    names = [queue] if queue else list(queues.NAMES)
    spans = range(first // span, current // span + 1)
    hours = range(first // 60, current // 60 + 1)
    pipe = redis_client.client().pipeline(transaction=False)
    for name in names:
        for index in spans:
            pipe.hgetall(metrics.span_key(name, span, index))
        for hour in hours:
            pipe.zrange(metrics.wait_key(name, hour), 0, -1, withscores=True)
    replies = iter(pipe.execute())

    points = range(first, current + 1, step)
    merged = {p: Counter() for p in points}
    waits: dict[int, float] = {}
    for _name in names:
        for index, raw in zip(spans, islice(replies, len(spans)), strict=True):
            merged[index * span // step * step].update({k.decode(): int(v) for k, v in raw.items()})
        for raw in islice(replies, len(hours)):
            for member, score in raw:
                minute = int(member)
                if first <= minute <= current:
                    point = minute // step * step
                    waits[point] = max(score, waits.get(point, 0.0))
    return _shaped(merged, waits, current, step)


def _shaped(merged: dict[int, Counter], waits: dict[int, float], current: int, step: int):
    def done(c: Counter) -> int:
        return c["succeeded"] + c["failed"]

    def runtimes(c: Counter) -> dict[str, int]:
        return {k[3:]: n for k, n in c.items() if k.startswith("rt:")}

    everything = sum(merged.values(), Counter())
    p95 = metrics.bucket_quantile(0.95, runtimes(everything))
    return {
        "step": step,
        "t": [p * 60 for p in merged],
        "throughput": [round(done(c) / min(step, current - p + 1), 3) for p, c in merged.items()],
        "failures": [c["failed"] for c in merged.values()],
        "wait_max_s": [waits.get(p) for p in merged],
        "runtime_p95_s": [
            _rounded(metrics.bucket_quantile(0.95, runtimes(c))) for c in merged.values()
        ],
        "totals": {
            "done": done(everything),
            "failed": everything["failed"],
            "wait_max_s": max(waits.values(), default=None),
            "runtime_p95_s": _rounded(p95),
        },
    }


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 6)
