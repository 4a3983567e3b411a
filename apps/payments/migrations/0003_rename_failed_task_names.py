"""The payments tasks are named after their services now (process_payment is
fulfil_payment, query_stk is settle_stk_by_query): failed tasks waiting for a retry are
renamed too, so ``queue_retry`` still finds a registered task for them."""

from django.db import migrations

RENAMED_TASKS = {
    "tasks.payments.process_payment": "tasks.payments.fulfil_payment",
    "tasks.payments.query_stk": "tasks.payments.settle_stk_by_query",
}


def _rename_tasks(apps, mapping: dict[str, str]) -> None:
    FailedTask = apps.get_model("ops", "FailedTask")
    for old, new in mapping.items():
        FailedTask.objects.filter(task_name=old).update(task_name=new)


def forwards(apps, schema_editor):
    _rename_tasks(apps, RENAMED_TASKS)


def backwards(apps, schema_editor):
    _rename_tasks(apps, {new: old for old, new in RENAMED_TASKS.items()})


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_failed_at_stk_push"),
        ("ops", "0003_tags"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
