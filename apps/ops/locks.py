"""Locks in Redis with a TTL and an owner token: unique jobs and non-overlapping runs.

A lock is a key whose value is its owner's token. It is taken when free or when the taker
already owns it (a retry, a release or a continuation carries the token on), and its TTL is
renewed on each take. Only the owner's token frees it (compare and delete, in one script), so
no one frees a lock someone else took after its TTL ran out; a holder that died (SIGKILL, a
lost host) frees it by the TTL alone.
"""

import secrets
from functools import cache

from apps.common import redis_client

PREFIX = "lock"

# Free or ours: take it (again) and renew the TTL. Returns the holder's token.
TAKE = """
local held = redis.call('GET', KEYS[1])
if held == false or held == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return held
"""

FREE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def new_token() -> str:
    return secrets.token_hex(8)


def take(name: str, token: str, ttl: float) -> str:
    """Take lock ``name`` for ``token`` for ``ttl`` seconds; the token that holds it now (this
    one if taken). Raises redis_client.REDIS_ERRORS when Redis does not answer."""
    held = _script(redis_client.client(), TAKE)(
        keys=[_key(name)], args=[token, max(1, int(ttl * 1000))]
    )
    return held.decode() if isinstance(held, bytes) else held


def free(name: str, token: str) -> bool:
    """Free lock ``name`` if ``token`` holds it; whether it did."""
    return bool(_script(redis_client.client(), FREE)(keys=[_key(name)], args=[token]))


def holder(name: str) -> str | None:
    held = redis_client.client().get(_key(name))
    return held.decode() if held is not None else None


def _key(name: str) -> str:
    return f"{PREFIX}:{name}"


@cache
def _script(client, source: str):
    # Once per client (the broker URL may change) and script; redis-py loads it again by
    # EVALSHA/EVAL when Redis lost it.
    return client.register_script(source)
