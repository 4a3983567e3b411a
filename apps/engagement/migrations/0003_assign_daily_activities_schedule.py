"""The beat rows of the daily assignment follow its task's new name, so the 00:05 run keeps
running (setup_schedules finds its row by name and never rewrites it)."""

from django.db import migrations
from django.utils import timezone

OLD = "tasks.default.assign_daily_tasks"
NEW = "tasks.default.assign_daily_activities"


def task_rename(apps, old: str, new: str) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    if PeriodicTask.objects.filter(task=old).update(task=new):
        # What PeriodicTasks.update_changed() does: a running beat reloads its schedule.
        PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def forwards(apps, schema_editor):
    task_rename(apps, OLD, NEW)


def backwards(apps, schema_editor):
    task_rename(apps, NEW, OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("engagement", "0002_task_to_activity"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
