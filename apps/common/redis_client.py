"""One Redis client per process for the app's own keys (rate limits, spools, events)."""

from functools import cache

import redis
from django.conf import settings
from kombu.exceptions import OperationalError

# What a Redis that does not answer raises, through redis-py or kombu.
REDIS_ERRORS = (redis.RedisError, OSError, OperationalError)


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def client() -> redis.Redis:
    """A client for REDIS_URL's server (the broker's), cached per URL."""
    return _client(settings.CELERY_BROKER_URL)
