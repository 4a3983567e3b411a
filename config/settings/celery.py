"""Celery settings, all derived from the queue table in config/queues.py.

Read by config/celery.py through ``namespace="CELERY"``.
https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

from kombu import Exchange, Queue

from config import queues
from config.env import env

REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")

CELERY_BROKER_URL = REDIS_URL
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # The table's value; BROKER_VISIBILITY_TIMEOUT lowers it only where every task is short
    # (the supervisor tests), since a task still running past it is delivered twice.
    "visibility_timeout": env.int("BROKER_VISIBILITY_TIMEOUT", default=queues.VISIBILITY_TIMEOUT),
    "socket_connect_timeout": 5,
    "fanout_prefix": True,
    "fanout_patterns": True,
}
# Delays (apps/ops/delays.py): a countdown past DELAY_ETA_MAX is held in the database, not
# sent as an ETA message, since an ETA message waits unacknowledged and the longest run follows
# it; held jobs are published DELAY_LEAD before they are due, again if not started DELAY_GRACE
# after it (the message was lost).
DELAY_ETA_MAX = env.int(
    "DELAY_ETA_MAX",
    default=max(
        0,
        CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
        - max(q.hard_limit for q in queues.QUEUES)
        - 60,
    ),
)
DELAY_LEAD = env.int("DELAY_LEAD", default=min(120, DELAY_ETA_MAX))
DELAY_GRACE = env.int("DELAY_GRACE", default=600)
DELAY_PUBLISH_CHUNK = 1000

# Results are ignored unless a task asks for them (outcomes live in our models).
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"socket_connect_timeout": 5}

# Routing: one queue per module of tasks/, nothing else exists.
CELERY_TASK_QUEUES = tuple(
    Queue(q.name, Exchange(q.name), routing_key=q.name) for q in queues.QUEUES
)
CELERY_TASK_ROUTES = {f"tasks.{q.name}.*": {"queue": q.name} for q in queues.QUEUES}
CELERY_TASK_DEFAULT_QUEUE = queues.DEFAULT
CELERY_TASK_DEFAULT_EXCHANGE = queues.DEFAULT
CELERY_TASK_DEFAULT_ROUTING_KEY = queues.DEFAULT
CELERY_TASK_CREATE_MISSING_QUEUES = False
# Explicit, because autodiscovery only looks inside Django apps.
CELERY_IMPORTS = tuple(f"tasks.{q.name}" for q in queues.QUEUES)
# Task modules beyond tasks/ that workers load: a test knob (the supervisor tests add
# tests.support.probes), refused in production.
WORKER_EXTRA_IMPORTS = tuple(env.list("WORKER_EXTRA_IMPORTS", default=[]))
CELERY_IMPORTS += WORKER_EXTRA_IMPORTS

# JSON only: pickle is remote code execution for anyone who can write to Redis.
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_EVENT_SERIALIZER = "json"

# Delivery: ack after the task ran, so a crash redelivers instead of losing; a lost
# worker child costs one attempt (retry_on_worker_lost) so a task that kills its
# worker every time ends in FailedTask instead of looping.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_RETRY_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A broker connection lost mid-task means the message will be redelivered: cancel
# the running copy rather than let both run.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Connections outlive tasks under Django's rules (config/celery.py); Celery's fixup would close
# them around every task, or with this set, only every this many tasks.
CELERY_DB_REUSE_MAX = 10**9
# A pool child is replaced after this many tasks, or after a task that left it above this
# much resident memory (KB); supervisor's worker programs pass the same values.
WORKER_MAX_TASKS_PER_CHILD = env.int("WORKER_MAX_TASKS_PER_CHILD", default=1000)
WORKER_MAX_MEMORY_KB = env.int("WORKER_MAX_MEMORY_KB", default=256_000)
CELERY_WORKER_MAX_TASKS_PER_CHILD = WORKER_MAX_TASKS_PER_CHILD
CELERY_WORKER_MAX_MEMORY_PER_CHILD = WORKER_MAX_MEMORY_KB

# Task backoff is the queue table's, multiplied by this (a test knob, refused in production).
TASK_BACKOFF_SCALE = env.float("TASK_BACKOFF_SCALE", default=1.0)

# Task events (received/started/succeeded per task) feed Flower's task list. They cost
# about a third of a payment's processing on a 2-core machine (workers send three messages
# per task, Flower digests them): off unless TASK_EVENTS=true. Flower lists the pools and
# queues without them, from worker heartbeats and the broker.
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("TASK_EVENTS", default=False)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# django-celery-beat's DatabaseScheduler behind a leader lock: a second beat waits as a standby
# instead of sending every schedule again (apps/ops/beat.py).
CELERY_BEAT_SCHEDULER = "apps.ops.beat:LeaderScheduler"
# s a standby waits before it takes over from a leader that stopped refreshing the lock.
BEAT_LOCK_TTL = env.float("BEAT_LOCK_TTL", default=30.0)
