"""Fixed-window request limits in Redis, written "COUNT/SECONDS" in settings (e.g. "3/300")."""

import logging
import time
from dataclasses import dataclass

from apps.common import redis_client

log = logging.getLogger("conveyor.ratelimit")


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


def hit(scope: str, key: str, rate: Rate) -> int | None:
    """Count one hit; None while within the rate, else the seconds until the window ends.

    If Redis does not answer the limit is not enforced (logged): refusing every buyer
    because the limiter is down would be worse than a burst getting through.
    """
    now = time.time()
    window = int(now // rate.seconds)
    name = f"ratelimit:{scope}:{key}:{window}"
    try:
        pipe = redis_client.client().pipeline()
        pipe.incr(name)
        pipe.expire(name, rate.seconds + 1)
        count, _ = pipe.execute()
    except redis_client.REDIS_ERRORS:
        log.warning("ratelimit.unavailable scope=%s", scope, exc_info=True)
        return None
    if count <= rate.count:
        return None
    return max(1, int((window + 1) * rate.seconds - now))
