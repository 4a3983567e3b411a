"""The Celery app. Its settings are the CELERY_* names in config/settings/celery.py."""

import ctypes
import os
import signal
import sys
import time

from celery import Celery
from celery.signals import before_task_publish, worker_process_init

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
