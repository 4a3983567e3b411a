"""The run log, as Horizon's recent jobs: every run of every task, kept in Redis for
RUN_HISTORY_DAYS, searchable by task, tag, id and outcome, and per entity as a timeline.

Workers record each run (tasks/base.py), in the same script and round trip as its metrics
(apps/ops/observe.py):
- ``runs:job:<task id>``: the job's runs in order, one small JSON record each (task, queue,
  attempt of attempts, worker, wait, duration, outcome, a capped error, tags, start time).
  A job's retries keep its id, so its attempts are read in one call and an id search is a
  key lookup. The key expires RUN_HISTORY_DAYS after the job's last run.
- sorted sets of job ids scored by their last run's time: ``runs:recent`` (every job),
  ``runs:task:<name>``, ``runs:outcome:<outcome>`` (jobs with a run that ended so) and
  ``runs:tag:<tag>`` (``runs:tag:payment:5``; it expires with its newest job too).
``runs_prune`` (beat, hourly; `manage.py queue_prune_runs`) removes the members older than
the history, or beyond RUN_HISTORY_MAX_JOBS jobs, from every set, and the records of those
jobs, so memory stays bounded by age and by count (about 550 bytes a run).

Recording never fails a task: Redis errors are logged, like the metrics'. Outcomes are the
metrics': succeeded, failed, retried, released, skipped.
"""

import json
import logging
import time
from datetime import UTC, datetime

from django.conf import settings

from apps.common import redis_client
from apps.ops.metrics import OUTCOMES
from apps.ops.tags import run_tags

log = logging.getLogger("conveyor.ops.runs")

PREFIX = "runs"
RECENT = f"{PREFIX}:recent"
ERROR_CHARS = 500  # of an error's text kept per run
RUNS_PER_JOB = 100  # runs kept per job: a job released over and over keeps its latest
CHUNK = 200  # jobs read per round trip while searching
SCAN_MAX = 5000  # jobs a search looks through before it answers with a cursor
TIMELINE_JOBS = 500  # an entity's newest jobs a timeline shows


# One run's writes, a fragment of apps/ops/observe.py's script (sent with the metrics', in one
# round trip). rk: the job's runs, recent, its task's set, its outcome's set, then its tags'
# sets. ra: the run (JSON), TTL (s), score (time), member (task id), runs kept per job.
LUA = """
redis.call('RPUSH', rk[1], ra[1])
redis.call('LTRIM', rk[1], -tonumber(ra[5]), -1)
redis.call('EXPIRE', rk[1], ra[2])
for i = 2, #rk do
  redis.call('ZADD', rk[i], ra[3], ra[4])
  if i > 4 then redis.call('EXPIRE', rk[i], ra[2]) end
end
"""


def history_seconds() -> float:
    return settings.RUN_HISTORY_DAYS * 86_400


def run_of(
    request,
    *,
    task: str,
    queue: str,
    attempts: int,
    outcome: str | None,
    runtime: float | None,
    wait: float | None,
    error: str = "",
) -> tuple[list[str], list] | None:
    """tasks/base.py's hook: the writes of the running task's run, if it is one to log. A final
    failure comes twice: from the run (outcome None, with its times) and from where the
    failure is recorded ("failed", with its error, once); the times wait on the request."""
    if request.id is None:
        return None  # called as a function, not a job
    if outcome is None:
        request.run_times = (runtime, wait)
        return None
    if outcome == "failed" and runtime is None:
        runtime, wait = getattr(request, "run_times", (None, wait))
    try:
        return run_writes(
            task_id=request.id,
            task=task,
            queue=queue,
            attempt=(request.retries or 0) + 1,
            attempts=attempts,
            worker=request.hostname or "",
            wait=wait,
            runtime=runtime,
            outcome=outcome,
            error=error,
            tags=run_tags(request.kwargs or {}, request.headers),
        )
    except Exception:  # called from failure hooks too, which must not fail; the log says so
        log.exception("runs.unrecorded id=%s task=%s", request.id, task)
        return None


def run_record(**run) -> None:
    """Append one run to its job and index the job by time, task, outcome and tags."""
    from apps.ops.observe import record

    record(run=run_writes(**run))


def run_writes(
    *,
    task_id: str,
    task: str,
    queue: str,
    attempt: int,
    attempts: int,
    worker: str,
    wait: float | None,
    runtime: float | None,
    outcome: str,
    error: str = "",
    tags: list[str] | tuple[str, ...] = (),
) -> tuple[list[str], list]:
    """The KEYS and ARGV of LUA for one run."""
    now = time.time()
    run = {
        "at": round(now - (runtime or 0), 6),  # when it started
        "task": task,
        "queue": queue,
        "attempt": attempt,
        "attempts": attempts,
        "worker": worker,
        "wait": None if wait is None else round(wait, 6),
        "duration": None if runtime is None else round(runtime, 6),
        "outcome": outcome,
        "error": error[:ERROR_CHARS],
        "tags": list(tags),
    }
    keys = [f"{PREFIX}:job:{task_id}", RECENT, f"{PREFIX}:task:{task}"]
    keys += [f"{PREFIX}:outcome:{outcome}", *(f"{PREFIX}:tag:{tag}" for tag in tags)]
    ttl = int(history_seconds()) or 1
    return keys, [json.dumps(run, separators=(",", ":")), ttl, now, task_id, RUNS_PER_JOB]


def job_get(*, task_id: str) -> dict | None:
    """One job with all its runs, or None (unknown, or older than the history)."""
    return _job(task_id, redis_client.client().lrange(f"{PREFIX}:job:{task_id}", 0, -1))


def jobs_recent(
    *,
    task: str = "",
    tag: str = "",
    task_id: str = "",
    outcome: str = "",
    before: float | None = None,
    limit: int = 50,
) -> dict:
    """Jobs newest first (by their last run) matching every filter given: ``task`` is a task
    name (exact if some job has it, else a part of one), ``outcome`` matches a job with a run
    that ended so. ``next`` is the cursor (``before``) of the following page, or None; a
    search looks through SCAN_MAX jobs at most before it answers with one."""
    if outcome and outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    if task_id:
        job = job_get(task_id=task_id)
        found = [job] if job and _matches(job, task, tag, outcome) else []
        return {"jobs": found, "next": None}
    client = redis_client.client()
    source, task_filter = _index(client, task, tag, outcome)
    found, high, scanned = [], "+inf" if before is None else f"({before}", 0
    cutoff = time.time() - history_seconds()
    while len(found) < limit and scanned < SCAN_MAX:
        page = client.zrevrangebyscore(source, high, cutoff, start=0, num=CHUNK, withscores=True)
        if not page:
            return {"jobs": found, "next": None}
        for (_, score), job in zip(page, _jobs(client, [j for j, _ in page]), strict=True):
            scanned += 1
            high = f"({score}"
            if job and _matches(job, task_filter, tag, outcome):
                found.append(job)
                if len(found) == limit:
                    break
    return {"jobs": found, "next": float(high[1:])}


def timeline(*, tags: list[str]) -> dict:
    """Every run of the entities' newest TIMELINE_JOBS jobs each, across queues, oldest first:
    one tag, or several (a payment and its subscription) merged."""
    client = redis_client.client()
    cutoff = time.time() - history_seconds()
    pipe = client.pipeline(transaction=False)
    for tag in tags:
        pipe.zrevrangebyscore(f"{PREFIX}:tag:{tag}", "+inf", cutoff, 0, TIMELINE_JOBS + 1)
    found = pipe.execute()
    ids = list(dict.fromkeys(i for per_tag in found for i in per_tag[:TIMELINE_JOBS]))
    runs = [
        {**run, "task_id": job["id"]} for job in _jobs(client, ids) if job for run in job["runs"]
    ]
    runs.sort(key=lambda run: run["started"])
    return {"tags": tags, "runs": runs, "truncated": any(len(i) > TIMELINE_JOBS for i in found)}


def runs_prune(*, before: float | None = None) -> int:
    """Forget the jobs whose last run is older than ``before`` (default: the history), and the
    oldest beyond RUN_HISTORY_MAX_JOBS; how many. Every set of the log is trimmed by score,
    and those jobs' records deleted."""
    client = redis_client.client()
    cutoff = time.time() - history_seconds() if before is None else before
    cap = settings.RUN_HISTORY_MAX_JOBS
    if cap and (newest_kept := client.zrevrange(RECENT, cap - 1, cap - 1, withscores=True)):
        cutoff = max(cutoff, newest_kept[0][1])  # a busy stack keeps fewer days
    pruned = 0
    while ids := client.zrangebyscore(RECENT, "-inf", f"({cutoff}", start=0, num=1000):
        pipe = client.pipeline(transaction=False)
        pipe.delete(*(f"{PREFIX}:job:{i.decode()}" for i in ids))
        pipe.zrem(RECENT, *ids)
        pipe.execute()
        pruned += len(ids)
    pipe = client.pipeline(transaction=False)
    for n, key in enumerate(client.scan_iter(match=f"{PREFIX}:*", count=1000, _type="zset")):
        pipe.zremrangebyscore(key, "-inf", f"({cutoff}")
        if n % 500 == 499:
            pipe.execute()
    pipe.execute()
    log.info("runs.pruned jobs=%s before=%s", pruned, cutoff)
    return pruned


def _index(client, task: str, tag: str, outcome: str) -> tuple[str, str]:
    """The narrowest index a search names, and the task filter left to apply on it."""
    if tag:
        return f"{PREFIX}:tag:{tag}", task
    if task and client.exists(f"{PREFIX}:task:{task}"):
        return f"{PREFIX}:task:{task}", ""  # a full name: exactly that task
    if outcome:
        return f"{PREFIX}:outcome:{outcome}", task
    return RECENT, task


def _jobs(client, ids: list) -> list[dict | None]:
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.lrange(f"{PREFIX}:job:{_text(job_id)}", 0, -1)
    return [_job(_text(i), raw) for i, raw in zip(ids, pipe.execute(), strict=True)]


def _job(task_id: str, raw: list[bytes]) -> dict | None:
    """A job as the pages show it: its last run's fields, and every run."""
    if not raw:
        return None
    runs = [_shown(json.loads(r)) for r in raw]
    last = runs[-1]
    return {**last, "id": task_id, "tags": runs[0]["tags"], "runs": runs}


def _shown(run: dict) -> dict:
    return {**run, "started": run["at"], "at": datetime.fromtimestamp(run["at"], UTC).isoformat()}


def _matches(job: dict, task: str, tag: str, outcome: str) -> bool:
    return (
        (not task or task in job["task"])
        and (not tag or tag in job["tags"])
        and (not outcome or any(r["outcome"] == outcome for r in job["runs"]))
    )


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value
