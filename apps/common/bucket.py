"""A token bucket in Redis shared by every worker on every host: paces calls to a provider.

GCRA (the generic cell rate algorithm) keeps a bucket as timestamps instead of a token count,
in one Lua script that reads Redis's own clock (TIME), so every host agrees on "now". A take
either goes now, or reserves the next free slot and says how long to wait for it: a caller
that comes back with its slot goes without taking again, so a backlog of N waiting callers
costs about two takes each instead of polling. A slot further than ``horizon`` ahead is not
reserved; the caller is told to try again in a while.

Two timestamps per bucket, in microseconds of Redis time:
- ``r``, reservations: when the next slot falls free (GCRA's theoretical arrival time);
- ``e``, emissions: the same for the callers that actually went (``r >= e``).
A fresh caller goes if ``r`` allows. A caller back with its slot goes if ``e`` allows, with one
interval more for delivery jitter (pools deliver neighbouring slots in no exact order), so no
more than n + burst go in any n intervals, nor burst + 1 at once. If ``e`` does not allow (it
came back so late that its neighbours went first, or stalled with others that all woke at
once) it is reserved a new slot behind the others. Lateness alone sends nobody back: a pool
slower than the rate runs every caller late, and they all go.
"""

import random
from dataclasses import dataclass
from functools import cache

import redis

from apps.common import redis_client
from apps.common.errors import TransientError
from apps.common.ratelimit import Rate, Unavailable

PREFIX = "bucket"
# s a caller may arrive before its slot and still go: clock skew between hosts, timer slop.
EARLY = 0.005
HORIZON = 30.0
# Past the horizon a caller comes back after this share of it, spread out.
REFUSED_WAIT = (0.5, 0.75)

MICRO = 1_000_000

TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = interval * (tonumber(ARGV[2]) - 1)
local slot = tonumber(ARGV[3])
local horizon = tonumber(ARGV[4])
local early = tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'r', 'e')
local r = tonumber(state[1]) or 0
local e = tonumber(state[2]) or 0

local function save(r2, e2)
  redis.call('HSET', KEYS[1], 'r', string.format('%d', r2), 'e', string.format('%d', e2))
  redis.call('PEXPIRE', KEYS[1], math.floor((r2 - now) / 1000) + 1000)
end

if slot >= 0 then
  if now < slot - early then
    return {now, slot - now, slot}
  end
  if now >= e - tau - interval - early then
    e = math.max(e, now) + interval
    save(math.max(r, e), e)
    return {now, 0, -1}
  end
end
if now >= r - tau then
  save(math.max(r, now) + interval, math.max(e, now) + interval)
  return {now, 0, -1}
end
local at = r - tau
if at - now > horizon then
  return {now, -1, -1}
end
save(r + interval, e)
return {now, at - now, at}
"""


class BucketUnavailable(Unavailable, TransientError):
    """Redis did not answer, so no token could be taken: a task retries it like any
    transient error (its queue's backoff, one attempt spent)."""


@dataclass(frozen=True)
class Pace:
    """``rate`` calls; after a quiet spell, ``burst`` of them may go at once."""

    rate: Rate
    burst: int = 1

    def __post_init__(self) -> None:
        if self.burst < 1:
            raise ValueError(f"a burst is at least 1: {self.burst}")

    @classmethod
    def parse(cls, text: str, *, burst: int = 1) -> "Pace":
        """From a "COUNT/SECONDS" setting, as Rate.parse reads it."""
        return cls(Rate.parse(text), burst)

    @property
    def interval(self) -> float:
        """Seconds between two calls at the steady rate."""
        return self.rate.seconds / self.rate.count


@dataclass(frozen=True)
class Grant:
    """``wait`` 0: go now. Otherwise come back in ``wait`` seconds, with ``slot`` if one was
    reserved (a Redis timestamp to hand to the next take). ``now``: Redis time of the take."""

    wait: float
    slot: float | None
    now: float

    @property
    def go(self) -> bool:
        return self.wait <= 0


@cache
def _script(client: redis.Redis):
    return client.register_script(TAKE)


def take(key: str, pace: Pace, *, slot: float | None = None, horizon: float = HORIZON) -> Grant:
    """Take a token from bucket ``key`` (created on first use, gone once idle), or reserve the
    next free one within ``horizon`` seconds. ``slot``: the one a previous take reserved.
    BucketUnavailable when Redis does not answer."""
    interval = round(pace.interval * MICRO)
    args = (
        interval,
        pace.burst,
        -1 if slot is None else round(slot * MICRO),
        round(horizon * MICRO),
        min(round(EARLY * MICRO), interval // 10),
    )
    try:
        now, wait, reserved = _script(redis_client.client())(keys=[f"{PREFIX}:{key}"], args=args)
    except redis_client.REDIS_ERRORS as exc:
        raise BucketUnavailable(key) from exc
    if wait < 0:  # refused: the reservations already reach past the horizon
        later = horizon * random.uniform(*REFUSED_WAIT)  # noqa: S311
        return Grant(wait=later, slot=None, now=now / MICRO)
    slot = None if reserved < 0 else reserved / MICRO
    return Grant(wait=wait / MICRO, slot=slot, now=now / MICRO)
