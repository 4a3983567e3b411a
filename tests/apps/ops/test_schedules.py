"""setup_schedules: creates what is missing, keeps staff's edits, names registered tasks."""

from io import StringIO

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from config.celery import app
from config.schedules import SCHEDULES

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
    assert all(task in app.tasks for task, *_ in SCHEDULES.values())


# DESIGN.md §3: where each scheduled job runs.
QUEUE_OF = {
    "payments: reconcile": "payments",
    "provisioning: reconcile": "provisioning",
    "provisioning: expire subscriptions": "provisioning",
    "provisioning: check routers": "provisioning",
    "commissions: disburse": "commissions",
    "maturation: mature balances": "maturation",
    "engagement: assign daily tasks": "default",
    "notifications: reconcile": "notifications",
    "ops: monitor queues": "default",
    "ops: prune history": "default",
    "ops: prune run log": "default",
    "ops: drain failed-task spool": "default",
    "ops: reconcile batches": "default",
    "ops: reconcile events": "default",
    "ops: publish delayed jobs": "default",
    "documents: reconcile": "default",
    "documents: prune": "default",
    "imports: prune": "default",
    "documents: missing receipts": "default",
    "imports: reconcile": "default",
    "reports: daily": "default",
    "reports: weekly": "default",
    "reports: monthly": "default",
}


def test_every_scheduled_task_routes_to_its_queue():
    assert set(QUEUE_OF) == set(SCHEDULES)
    for name, (task, *_) in SCHEDULES.items():
        assert app.amqp.router.route({}, task)["queue"].name == QUEUE_OF[name], name


def test_crontab_schedules_run_in_the_project_time_zone_and_expire_before_the_next_run():
    call_command("setup_schedules", stdout=StringIO())
    disburse = PeriodicTask.objects.get(name="commissions: disburse")
    assert (disburse.crontab.minute, disburse.crontab.hour) == ("0", "*")
    assert str(disburse.crontab.timezone) == "Africa/Nairobi"
    assert 0 < disburse.expire_seconds < 3600
    daily = PeriodicTask.objects.get(name="engagement: assign daily tasks")
    assert (daily.crontab.minute, daily.crontab.hour) == ("5", "0")
    assert 3600 < daily.expire_seconds < 86_400
