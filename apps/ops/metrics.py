"""Task and queue metrics, kept in Redis so every web process, the operations page and
/metrics see the same figures.

Workers record each run (tasks/base.py): a counter by queue, task and outcome; runtime and
wait histograms (wait: publish, or the end of a retry's countdown, to start); per-minute
counts per queue for throughput and failure rate; the last RECENT runtimes per queue for
exact percentiles. Gauges (depth, oldest wait, workers, pool sizes) are read live from the
broker and the workers when asked. Recording never fails a task: Redis errors are logged.

For the metrics screen (apps/ops/metric_series.py), per queue, all in the same pipeline:
- ``per60:<queue>:<minute>`` (kept MINUTES_KEPT) and ``per600:<queue>:<ten minutes>`` (kept
  METRICS_MINUTES_KEPT) hashes: the outcomes, and ``rt:<le>`` the runtimes of the runs that
  ended then, in BUCKETS, so a p95 over any span is computed from merged buckets. The
  ten-minute rollup is what the 24-hour range reads: merging 1,440 minute hashes costs about
  0.1 s of parsing per queue, 144 of them a tenth of that.
- ``waitmax:<queue>:<hour>``, a sorted set of the hour's minutes, scored by the longest wait
  of a run that started in that minute (ZADD GT keeps the maximum without a script; Redis
  >= 6.2), kept METRICS_MINUTES_KEPT plus an hour. That is the "oldest wait" of a minute:
  the longest any job that started then had waited; a job still queued shows up when it
  starts (the operations page's live gauge shows it before).
At most about 160 KB per queue per day with every minute busy and every bucket used (a
hash is about 400 bytes, a full hour's set about 2 KB): 120 + 144 hashes and 25 sets.
"""

import logging
import time

from django.conf import settings

from apps.common import redis_client
from apps.common.stats import percentile

log = logging.getLogger("conveyor.metrics")

PREFIX = "metrics"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
OUTCOMES = ("succeeded", "failed", "retried", "released", "skipped")
RECENT = 500  # runtimes kept per queue
MINUTES_KEPT = 120
ROLLUP = 10  # minutes per bucket of the long range
TICK = 10  # s: the last minute's throughput is counted in six of these


def _bucket(seconds: float) -> str:
    return next((_le(b) for b in BUCKETS if seconds <= b), "+Inf")


def _le(bound: float) -> str:
    return f"{bound:g}"


# The writes of one run, a fragment of apps/ops/observe.py's script: mk are its KEYS, ma its
# ARGV (see metric_writes). One script rather than a pipeline of some twenty commands: the
# worker's CPU for them is what no-op throughput is judged by.
LUA = """
local outcome, runtime, wait = ma[1], ma[3], ma[5]
-- A bucket's TTL is set when one of its fields is new (its first write creates the key), not
-- on every run.
if outcome ~= '' then
  redis.call('HINCRBY', mk[1], ma[2], 1)
  if redis.call('HINCRBY', mk[2], outcome, 1) == 1 then redis.call('EXPIRE', mk[2], 120) end
end
if outcome ~= '' or runtime ~= '' then
  for i, ttl in ipairs({ma[8], ma[9]}) do
    local new = false
    if outcome ~= '' then new = redis.call('HINCRBY', mk[2 + i], outcome, 1) == 1 end
    if runtime ~= '' then
      new = redis.call('HINCRBY', mk[2 + i], 'rt:' .. ma[4], 1) == 1 or new
    end
    if new then redis.call('EXPIRE', mk[2 + i], ttl) end
  end
end
if wait ~= '' and redis.call('ZADD', mk[5], 'GT', ma[12], ma[11]) == 1 then
  redis.call('EXPIRE', mk[5], ma[10])
end
for i, seen in ipairs({{runtime, ma[4], mk[6]}, {wait, ma[6], mk[7]}}) do
  if seen[1] ~= '' then
    redis.call('HINCRBY', seen[3], seen[2], 1)
    redis.call('HINCRBYFLOAT', seen[3], 'sum', seen[1])
    redis.call('HINCRBY', seen[3], 'count', 1)
    redis.call('SADD', mk[8], ma[7])
  end
end
if runtime ~= '' then
  redis.call('LPUSH', mk[9], runtime)
  redis.call('LTRIM', mk[9], 0, tonumber(ma[13]) - 1)
end
"""


def task_observed(
    *, queue: str, task: str, outcome: str | None, runtime: float | None, wait: float | None
) -> None:
    """Record one run: ``outcome`` counted (None: counted elsewhere), times observed."""
    from apps.ops.observe import record

    seen = metric_writes(queue=queue, task=task, outcome=outcome, runtime=runtime, wait=wait)
    record(metrics=seen)


def metric_writes(
    *, queue: str, task: str, outcome: str | None, runtime: float | None, wait: float | None
) -> tuple[list[str], list]:
    """The KEYS and ARGV of LUA for one run."""
    now = time.time()
    series = f"{queue}|{task}"
    minute = int((now - (runtime or 0)) // 60)  # the minute it started, for its wait
    keys = [
        f"{PREFIX}:tasks",
        f"{PREFIX}:per{TICK}:{queue}:{int(now // TICK)}",
        span_key(queue, 1, int(now // 60)),
        span_key(queue, ROLLUP, int(now // (60 * ROLLUP))),
        wait_key(queue, minute // 60),
        f"{PREFIX}:runtime:{series}",
        f"{PREFIX}:wait:{series}",
        f"{PREFIX}:series",
        f"{PREFIX}:recent:{queue}",
    ]
    args = [
        outcome or "",
        f"{series}|{outcome}",
        "" if runtime is None else f"{runtime:.6f}",
        "" if runtime is None else _bucket(runtime),
        "" if wait is None else f"{wait:.6f}",
        "" if wait is None else _bucket(wait),
        series,
        MINUTES_KEPT * 60,
        settings.METRICS_MINUTES_KEPT * 60,
        (settings.METRICS_MINUTES_KEPT + 60) * 60,
        str(minute),
        "" if wait is None else f"{wait:.3f}",
        RECENT,
    ]
    return keys, args


def bucket_quantile(q: float, counts: dict[str, int]) -> float | None:
    """The ``q`` quantile (0-1) of runs counted per bucket (``le`` -> runs, not cumulative),
    interpolated linearly inside its bucket as Prometheus's histogram_quantile does; in the
    +Inf bucket, the last finite bound. None when nothing ran."""
    rank = q * sum(counts.values())
    if not rank:
        return None
    lower, running = 0.0, 0
    for bound in BUCKETS:
        n = counts.get(_le(bound), 0)
        if n and running + n >= rank:
            return lower + (bound - lower) * (rank - running) / n
        running, lower = running + n, bound
    return BUCKETS[-1]


def span_key(queue: str, minutes: int, index: int) -> str:
    """The hash of ``queue``'s ``index``-th span of ``minutes`` (1 or ROLLUP) minutes."""
    return f"{PREFIX}:per{minutes * 60}:{queue}:{index}"


def wait_key(queue: str, hour: int) -> str:
    return f"{PREFIX}:waitmax:{queue}:{hour}"


def counts() -> dict[tuple[str, str, str], int]:
    """(queue, task, outcome) -> tasks finished so."""
    raw = redis_client.client().hgetall(f"{PREFIX}:tasks")
    return {tuple(k.decode().split("|")): int(v) for k, v in raw.items()}


def histograms(kind: str) -> dict[tuple[str, str], dict]:
    """(queue, task) -> {"buckets": [(le, cumulative count)], "sum", "count"} for ``kind``
    (runtime or wait), in seconds."""
    client = redis_client.client()
    series = sorted(s.decode() for s in client.smembers(f"{PREFIX}:series"))
    pipe = client.pipeline(transaction=False)
    for name in series:
        pipe.hgetall(f"{PREFIX}:{kind}:{name}")
    result = {}
    for name, raw in zip(series, pipe.execute(), strict=True):
        if not raw:
            continue
        fields = {k.decode(): v for k, v in raw.items()}
        running, buckets = 0, []
        for le in [*map(_le, BUCKETS), "+Inf"]:
            running += int(fields.get(le, 0))
            buckets.append((le, running))
        queue, task = name.split("|")
        result[(queue, task)] = {
            "buckets": buckets,
            "sum": float(fields.get("sum", 0)),
            "count": int(fields.get("count", 0)),
        }
    return result


def queue_rates(queue: str) -> dict:
    """Tasks finished in the last minute (six 10-second buckets, the current one included)
    and the last hour (60 minute buckets, likewise), and the failure rate over that hour."""
    now = time.time()
    pipe = redis_client.client().pipeline(transaction=False)
    ticks, minutes = int(now // TICK), int(now // 60)
    for tick in range(ticks - 5, ticks + 1):
        pipe.hgetall(f"{PREFIX}:per{TICK}:{queue}:{tick}")
    for minute in range(minutes - 59, minutes + 1):
        pipe.hgetall(f"{PREFIX}:per60:{queue}:{minute}")
    replies = [{k.decode(): int(v) for k, v in raw.items()} for raw in pipe.execute()]
    last_minute, last_hour = replies[:6], replies[6:]

    def done(buckets: list[dict]) -> int:
        return sum(b.get("succeeded", 0) + b.get("failed", 0) for b in buckets)

    hour = done(last_hour)
    failed = sum(b.get("failed", 0) for b in last_hour)
    return {
        "last_minute": done(last_minute),
        "last_hour": hour,
        "failure_rate": failed / hour if hour else None,
    }


def runtime_percentiles(queue: str) -> dict:
    """p50 and p95 runtime in ms over the queue's last RECENT tasks (None if none ran)."""
    values = [float(v) for v in redis_client.client().lrange(f"{PREFIX}:recent:{queue}", 0, -1)]
    if not values:
        return {"p50_ms": None, "p95_ms": None, "sample": 0}
    return {
        "p50_ms": percentile(values, 50) * 1000,
        "p95_ms": percentile(values, 95) * 1000,
        "sample": len(values),
    }
