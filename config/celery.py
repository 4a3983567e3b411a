"""The Celery app. Its settings are the CELERY_* names in config/settings/celery.py."""

import ctypes
import os
import signal
import sys
import time

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun, worker_process_init

# Production settings unless DJANGO_SETTINGS_MODULE says otherwise (`make up`, the tests and
# the benchmark set it), as cookiecutter-django does.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.prod")

# Every task gets the queue policy of tasks/base.py unless it names another base.
app = Celery("conveyor", task_cls="tasks.base:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")

PUBLISHED_AT = "published_at"


@before_task_publish.connect
def stamp_published_at(headers: dict, **_: object) -> None:
    """Stamp each message with its publish time, so a queue's oldest wait can be measured."""
    headers[PUBLISHED_AT] = time.time()


PR_SET_PDEATHSIG = 1


@worker_process_init.connect
def die_with_the_pool(**_: object) -> None:
    """A pool child must not outlive its worker's main process (SIGKILLed, OOM-killed): no
    one could acknowledge what it runs, so that task would run again after the visibility
    timeout while the orphan finished it too. Linux kills the child with its parent."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@task_prerun.connect
@task_postrun.connect
def keep_or_drop_connections(task=None, state=None, **_: object) -> None:
    """Django's own rules for a connection at each task's start and end, as for a request:
    kept for CONN_MAX_AGE, dropped if unusable, health-checked at its next first use. (Celery's
    fixup would close it around every task, a new PostgreSQL backend for each; CELERY_DB_REUSE_MAX
    in the settings turns that off.) A task that did not succeed may have been interrupted
    inside a query (a soft time limit is raised wherever the task is), leaving a connection
    mid-conversation that still looks usable: it is closed; a released task (IGNORED) ended
    between queries and keeps it. An eager task runs inside its caller's transaction and is
    left alone."""
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections, connections

    if state is not None and state not in ("SUCCESS", "IGNORED"):
        for conn in connections.all(initialized_only=True):
            conn.close()
    else:
        close_old_connections()
