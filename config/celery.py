"""The Celery app. Its settings are the CELERY_* names in config/settings/celery.py."""

import os
import time

from celery import Celery
from celery.signals import before_task_publish

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

# Every task gets the queue policy of tasks/base.py unless it names another base.
app = Celery("conveyor", task_cls="tasks.base:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")

PUBLISHED_AT = "published_at"


@before_task_publish.connect
def stamp_published_at(headers: dict, **_: object) -> None:
    """Stamp each message with its publish time, so a queue's oldest wait can be measured."""
    headers[PUBLISHED_AT] = time.time()
