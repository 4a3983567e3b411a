"""One run recorded in one call: its metrics (apps/ops/metrics.py) and its entry in the run
log (apps/ops/runs.py), each a fragment of one Lua script. Recording never fails a task: Redis
errors are logged.

In a worker, runs are gathered by a thread of each process and sent together every
METRICS_FLUSH_SECONDS (``record_soon``): a call to Redis on every task's own path cost more
than the rest of the shared Task class together (measured: 0.8 ms of CPU per no-op task, pool
and Redis, against 0.1). What a process gathered is sent when it shuts down or is recycled;
one killed outright (SIGKILL) loses its last METRICS_FLUSH_SECONDS of records: samples of the
metrics and the run log, never a task.
"""

import json
import logging
import os
import threading
from collections import deque
from functools import cache

from celery.signals import worker_process_shutdown, worker_shutdown
from django.conf import settings

from apps.common import redis_client
from apps.ops import metrics, runs

log = logging.getLogger("conveyor.metrics")

# One run: KEYS, and ARGV whose first two say how many KEYS and ARGV after them are the
# metrics'; the rest are the run's. Many runs: ARGV[1] "many", ARGV[2] a JSON list of
# [keys, argv] pairs (the keys then come in ARGV: one Redis, not a cluster).
SCRIPT = (
    """
local function one(keys, argv)
  local nk, na = tonumber(argv[1]), tonumber(argv[2])
  local mk, ma, rk, ra = {}, {}, {}, {}
  for i = 1, #keys do
    if i <= nk then mk[i] = keys[i] else rk[i - nk] = keys[i] end
  end
  for i = 3, #argv do
    if i - 2 <= na then ma[i - 2] = argv[i] else ra[i - 2 - na] = argv[i] end
  end
  if nk > 0 then
"""
    + metrics.LUA
    + """
  end
  if #rk > 0 then
"""
    + runs.LUA
    + """
  end
end
if ARGV[1] == 'many' then
  for _, call in ipairs(cjson.decode(ARGV[2])) do one(call[1], call[2]) end
else
  one(KEYS, ARGV)
end
"""
)

NOTHING: tuple[list, list] = ([], [])
FLUSH_MAX = 500  # records sent at once
GATHERED_MAX = 20_000  # records a process holds while Redis does not take them


@cache
def _script(client):
    return client.register_script(SCRIPT)


def record(*, metrics: tuple[list, list] | None = None, run: tuple[list, list] | None = None):
    """Send a run's metric writes and run-log writes (either may be None) now, in one call."""
    if call := _call(metrics, run):
        _send([call])


def record_soon(*, metrics: tuple[list, list] | None = None, run: tuple[list, list] | None = None):
    """As record, sent within METRICS_FLUSH_SECONDS by this process's sender thread."""
    if call := _call(metrics, run):
        _sender.add(call)


def _call(metrics, run) -> tuple[list, list] | None:
    (mk, ma), (rk, ra) = metrics or NOTHING, run or NOTHING
    if not mk and not rk:
        return None
    return [*mk, *rk], [len(mk), len(ma), *ma, *ra]


def _send(calls: list[tuple[list, list]]) -> None:
    try:
        client = redis_client.client()
        if len(calls) == 1:
            _script(client)(keys=calls[0][0], args=calls[0][1], client=client)
        else:
            _script(client)(args=["many", json.dumps(calls, separators=(",", ":"))], client=client)
    except redis_client.REDIS_ERRORS as exc:
        log.warning("run.unrecorded runs=%d error=%s", len(calls), exc)


class _Sender:
    """The thread of a process that sends its gathered records every METRICS_FLUSH_SECONDS;
    started on first use in each process (a forked child does not inherit its parent's)."""

    def __init__(self) -> None:
        self.gathered: deque = deque(maxlen=GATHERED_MAX)
        self.full = threading.Event()
        self.pid: int | None = None

    def add(self, call) -> None:
        if self.pid != os.getpid():
            self.pid = os.getpid()
            self.gathered.clear()  # a parent's, copied by the fork: the parent sends them
            self.full = threading.Event()
            threading.Thread(target=self._run, name="run-recorder", daemon=True).start()
        self.gathered.append(call)
        if len(self.gathered) >= FLUSH_MAX:
            self.full.set()

    def _run(self) -> None:
        while True:
            self.full.wait(settings.METRICS_FLUSH_SECONDS)
            self.full.clear()
            self.flush()

    def flush(self) -> None:
        while self.gathered:
            calls = []
            while self.gathered and len(calls) < FLUSH_MAX:
                calls.append(self.gathered.popleft())
            _send(calls)


_sender = _Sender()


@worker_process_shutdown.connect
@worker_shutdown.connect
def _flush_at_exit(**_: object) -> None:
    _sender.flush()
