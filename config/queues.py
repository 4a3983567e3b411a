"""The queue table: every queue, its worker pool and its delivery policy.

Celery routing, the shared Task class, the supervisor programs and the monitor all
follow this table, and tests/test_queue_topology.py proves that they agree.
Import-light on purpose (no Django, no Celery): anything may read it.

Attempts count runs, not retries: ``attempts=3`` is the first run and two retries.
``backoff[i]`` is the wait before retry ``i + 1``; a schedule shorter than the
retries repeats its last value, longer than them keeps the tail for when attempts
are raised (Laravel's ``$tries`` / ``$backoff``).

Pool sizes: the seed's, measured on 2 cores against smaller ones (`make bench --shape`, see
README): pools of 2 and 2 gunicorn workers cost more CPU per purchase at 25/s and accepted
a third fewer callbacks per second, and a provisioning pool of 2 put a third fewer users on
routers per second. Prefork stays, for the I/O-bound provisioning pool too: Celery's thread
pool enforces no time limits, and a hard limit that kills a stuck job is a guarantee here.
"""

from dataclasses import dataclass

MINUTE = 60


@dataclass(frozen=True)
class QueuePolicy:
    name: str
    work: str
    pool: int  # worker processes in this queue's pool
    soft_limit: int  # seconds; the task gets SoftTimeLimitExceeded
    hard_limit: int  # seconds; the pool kills the child
    attempts: int
    backoff: tuple[int, ...]  # seconds before each retry
    alert_depth: int  # messages waiting
    alert_wait: int  # seconds the oldest message has waited


QUEUES: tuple[QueuePolicy, ...] = (
    QueuePolicy(
        name="payments",
        work="callbacks, STK requests",
        pool=4,
        soft_limit=110,
        hard_limit=120,
        attempts=3,
        backoff=(10, 30, 60),
        alert_depth=100,
        alert_wait=30,
    ),
    QueuePolicy(
        name="provisioning",
        work="routers, RADIUS",
        pool=3,
        soft_limit=55,
        hard_limit=60,
        attempts=5,
        backoff=(5, 15, 30, 60, 120),
        alert_depth=100,
        alert_wait=60,
    ),
    QueuePolicy(
        name="commissions",
        work="disbursement",
        pool=1,
        soft_limit=240,
        hard_limit=300,
        attempts=2,
        backoff=(60,),
        alert_depth=10,
        alert_wait=15 * MINUTE,
    ),
    QueuePolicy(
        name="maturation",
        work="maturation, heavy batch",
        pool=1,
        soft_limit=240,
        hard_limit=300,
        attempts=2,
        backoff=(300,),
        alert_depth=10,
        alert_wait=30 * MINUTE,
    ),
    QueuePolicy(
        name="default",
        work="assignment, reports, housekeeping",
        pool=2,
        soft_limit=80,
        hard_limit=90,
        attempts=3,
        backoff=(10, 30, 60),
        alert_depth=200,
        alert_wait=5 * MINUTE,
    ),
    QueuePolicy(
        name="notifications",
        work="SMS and in-app notices",
        pool=2,
        soft_limit=50,
        hard_limit=60,
        attempts=5,
        backoff=(10, 30, 60, 120, 300),
        alert_depth=500,
        alert_wait=2 * MINUTE,
    ),
    QueuePolicy(
        name="emails",
        work="mail",
        pool=1,
        soft_limit=50,
        hard_limit=60,
        attempts=3,
        backoff=(30, 120, 600),
        alert_depth=500,
        alert_wait=10 * MINUTE,
    ),
    QueuePolicy(
        name="documents",
        work="receipts, reports on demand, imports, exports",
        pool=1,
        soft_limit=540,
        hard_limit=600,
        attempts=2,
        backoff=(60,),
        alert_depth=20,
        alert_wait=30 * MINUTE,
    ),
)

BY_NAME: dict[str, QueuePolicy] = {q.name: q for q in QUEUES}
NAMES: tuple[str, ...] = tuple(BY_NAME)
DEFAULT = "default"

# Jitter stretches each backoff by up to this fraction, so retries of a burst spread out.
BACKOFF_JITTER = 0.25

# Redis hands an unacknowledged message to another worker after this many seconds.
# It must exceed the longest hard limit plus the longest retry countdown (a retry
# waits unacked in the worker), or an acks_late task would run twice: 1 h covers both.
VISIBILITY_TIMEOUT = 3600


def backoff_delay(backoff: tuple[int, ...], retry: int) -> int:
    """Seconds to wait before retry number ``retry`` (1-based), jitter not included."""
    return backoff[min(retry, len(backoff)) - 1]


def policy(name: str) -> QueuePolicy:
    """The policy of queue ``name``; KeyError names the unknown queue."""
    return BY_NAME[name]
