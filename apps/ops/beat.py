"""One beat sends, however many run: django-celery-beat's scheduler behind a leader lock.

A second beat (a second `make up`, an overlapping deploy, a standby host) must not make every
schedule fire twice. Each beat ticks through ``LeaderScheduler``: it sends only while it holds
the Redis key ``beat:leader`` (an owner token with a TTL, refreshed on every tick); the others
wait as standbys and take over within BEAT_LOCK_TTL once the leader stops or dies. The lock
lives in the broker's Redis: with Redis away nothing could be sent anyway, so nobody leads.

The leader saves each entry's last run right after sending it, so a standby that takes over
reads from the database when each schedule last ran and does not send it again.
"""

import contextlib
import logging
import uuid

from django.conf import settings
from django_celery_beat.schedulers import DatabaseScheduler

from apps.common import redis_client

log = logging.getLogger("conveyor.ops.beat")

LOCK_KEY = "beat:leader"
HELD, TAKEN = 1, 2
# Hold or take the lock: 1 held and refreshed, 2 taken now, 0 someone else holds it.
LEAD = """
local owner = redis.call('get', KEYS[1])
if owner == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end
if not owner then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class LeaderScheduler(DatabaseScheduler):
    def __init__(self, *args, **kwargs):
        self.token = uuid.uuid4().hex
        self.leading = False
        super().__init__(*args, **kwargs)
        self.sync_every_tasks = 1  # last_run_at in the database as soon as a task is sent

    def tick(self, *args, **kwargs) -> float:
        if not self._lead():
            return self._standby_interval()
        return min(super().tick(*args, **kwargs), self._standby_interval())

    def apply_entry(self, entry, producer=None):
        """Sends only if this beat still held the lock a moment ago: a tick slower than the
        lock's TTL (a loaded host) may have let another beat take over since the tick began,
        and both would send this run. Lost and taken again, this beat's view of the last runs
        may be stale, so it sends nothing until the next tick has read them again."""
        if self._lead() == HELD:
            super().apply_entry(entry, producer=producer)
        else:
            self._dirty.discard(entry.name)  # not sent: its last run is not this beat's to save

    def _lead(self) -> int:
        """HELD, TAKEN (now, the last runs read again) or 0 (another beat leads)."""
        ttl_ms = int(settings.BEAT_LOCK_TTL * 1000)
        try:
            answer = redis_client.client().eval(LEAD, 1, LOCK_KEY, self.token, ttl_ms)
        except redis_client.REDIS_ERRORS as exc:
            answer = 0
            if self.leading:
                log.warning("beat.lock_unreachable token=%s error=%s", self.token, exc)
        if answer == TAKEN:
            log.info("beat.leading token=%s", self.token)
            # Every schedule's last run as the last leader left it, not as read at start, and
            # the heap rebuilt from it the way DatabaseScheduler rebuilds it for a changed
            # schedule. (Dropping the heap instead left that rebuild's flag set for the next
            # tick, which rebuilt it again from entries whose last run was not yet advanced,
            # and sent a due schedule twice.)
            self._schedule = self.all_as_schedule()
            self._heap = []
            self._heap_invalidated = True
        elif not answer and self.leading:
            log.warning("beat.standby token=%s (another beat holds %s)", self.token, LOCK_KEY)
        self.leading = bool(answer)
        return answer

    def _standby_interval(self) -> float:
        """Ticks come at least this often, so the lock is refreshed well within its TTL."""
        return settings.BEAT_LOCK_TTL / 3

    def close(self) -> None:
        super().close()
        if self.leading:
            with contextlib.suppress(*redis_client.REDIS_ERRORS):  # the TTL frees it anyway
                redis_client.client().eval(RELEASE, 1, LOCK_KEY, self.token)
            self.leading = False
