"""setup_schedules: creates what is missing, keeps staff's edits, names registered tasks."""

from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from apps.ops.services import SCHEDULES
from config.celery import app

pytestmark = pytest.mark.django_db


def test_every_schedule_is_created_once_and_edits_survive():
    call_command("setup_schedules", stdout=StringIO())
    assert set(PeriodicTask.objects.values_list("name", flat=True)) == set(SCHEDULES)
    reconcile = PeriodicTask.objects.get(name="payments: reconcile")
    assert (reconcile.interval.every, reconcile.expire_seconds) == (60, 60)

    reconcile.enabled = False
    reconcile.save()
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    assert "0 created" in out.getvalue()
    assert PeriodicTask.objects.get(name="payments: reconcile").enabled is False


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    assert all(task in app.tasks for task, _ in SCHEDULES.values())
