"""What the broker knows: queue depths, the oldest message's wait, the consuming workers.

Depth and the oldest message are read straight from Redis, where kombu keeps each
queue as lists (one per priority step) that it pushes on the left and pops on the
right, so the oldest message is the rightmost one.
"""

import json
import time
from dataclasses import dataclass

from apps.common.redis_client import REDIS_ERRORS as BROKER_ERRORS
from apps.common.redis_client import client
from config.celery import PUBLISHED_AT, app

__all__ = ["BROKER_ERRORS", "Backlog", "backlogs", "client", "ping", "pools"]


@dataclass(frozen=True)
class Backlog:
    depth: int
    oldest_published_at: float | None  # None: empty, or published without our header

    def oldest_wait(self, now: float) -> float | None:
        if self.oldest_published_at is None:
            return None
        return max(0.0, now - self.oldest_published_at)


def backlogs(names: list[str]) -> dict[str, Backlog]:
    """Depth and oldest publish time of each queue; raises BROKER_ERRORS if Redis is away."""
    with app.connection_for_read() as conn:
        channel = conn.default_channel
        # kombu's own key names for a queue's priority lists.
        keys = {n: [channel._q_for_pri(n, p) for p in channel.priority_steps] for n in names}
        pipe = channel.client.pipeline(transaction=False)
        for name in names:
            for key in keys[name]:
                pipe.llen(key)
                pipe.lindex(key, -1)
        replies = iter(pipe.execute())
        result = {}
        for name in names:
            depth, heads = 0, []
            for _ in keys[name]:
                depth += next(replies)
                heads.append(_published_at(next(replies)))
            stamped = [h for h in heads if h is not None]
            result[name] = Backlog(depth=depth, oldest_published_at=min(stamped, default=None))
        return result


def _published_at(raw: bytes | None) -> float | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)["headers"][PUBLISHED_AT]
    except (ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def ping() -> float:
    """Round trip to the broker in milliseconds; raises BROKER_ERRORS if it does not answer."""
    started = time.perf_counter()
    client().ping()
    return (time.perf_counter() - started) * 1000


POOLS_KEY = "ops:pools"
POOLS_TTL = 5  # s: the page and /metrics ask often; the workers answer in up to a second


def pools(timeout: float = 1.0, fresh: bool = False) -> dict[str, dict]:
    """Queue name -> {"workers": [names], "processes": pool processes consuming it}, as the
    workers answer within ``timeout``; the answer is shared in Redis for POOLS_TTL seconds by
    every process, unless ``fresh`` asks the workers now."""
    cached = None if fresh else client().get(POOLS_KEY)
    if cached:
        return json.loads(cached)
    inspect = app.control.inspect(timeout=timeout)
    stats = inspect.stats() or {}
    found: dict[str, dict] = {}
    for worker, queues in sorted((inspect.active_queues() or {}).items()):
        size = stats.get(worker, {}).get("pool", {}).get("max-concurrency", 0)
        for queue in queues:
            entry = found.setdefault(queue["name"], {"workers": [], "processes": 0})
            entry["workers"].append(worker)
            entry["processes"] += size
    client().set(POOLS_KEY, json.dumps(found), ex=POOLS_TTL)
    return found


def drain(node: str, queue: str, timeout: float) -> bool:
    """Make worker ``node`` stop taking messages from ``queue`` and wait, up to ``timeout``
    seconds, until it runs and holds none; False if it never answered or is still busy.

    A warm shutdown then has nothing in flight: kombu restores, at shutdown, a message whose
    late acknowledgement races the closing channel, and that task would run a second time."""
    replies = app.control.cancel_consumer(queue, destination=[node], reply=True, timeout=2)
    if not replies:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        inspect = app.control.inspect(destination=[node], timeout=1)
        active, reserved = inspect.active() or {}, inspect.reserved() or {}
        if node in active and not active[node] and not reserved.get(node):
            return True
        time.sleep(0.2)
    return False
