"""Fixed-window request limits in Redis, written "COUNT/SECONDS" in settings (e.g. "3/300")."""

import time
from dataclasses import dataclass

from apps.common import redis_client


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> "Rate":
        count, _, seconds = text.partition("/")
        rate = cls(int(count), int(seconds))
        if rate.count < 1 or rate.seconds < 1:
            raise ValueError(f"a rate is COUNT/SECONDS, both positive: {text!r}")
        return rate


class Unavailable(Exception):
    """Redis did not answer, so the hit could not be counted."""


def hit(scope: str, key: str, rate: Rate) -> int | None:
    """Count one hit; None while within the rate, else the seconds until the window ends.
    Unavailable when Redis does not answer: the caller decides whether that refuses."""
    now = time.time()
    window = int(now // rate.seconds)
    name = f"ratelimit:{scope}:{key}:{window}"
    try:
        pipe = redis_client.client().pipeline()
        pipe.incr(name)
        pipe.expire(name, rate.seconds + 1)
        count, _ = pipe.execute()
    except Exception as exc:
        # Redis away, or a fault of the client itself (redis-py has raised AttributeError
        # when a connection was dropped mid-handshake): either way nothing was counted, and
        # the caller's policy, not a 500, decides.
        raise Unavailable(scope) from exc
    if count <= rate.count:
        return None
    return max(1, int((window + 1) * rate.seconds - now))
