"""The floor's Celery app, wired as Celery's "First steps with Django" guide does."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.floor.settings")

app = Celery("floor")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def reuse_connections(**_: object) -> None:
    """Treat a task as Django treats a request: keep the connection for CONN_MAX_AGE, checked
    before reuse. (Celery's Django fixup would close it around every task, a new PostgreSQL
    backend for each; CELERY_DB_REUSE_MAX in the settings turns that off.)"""
    close_old_connections()
