"""The data migrations of the renames: stored values and failed tasks' names, both ways."""

from importlib import import_module

from django.apps import apps

from apps.ops.models import FailedTask
from apps.payments.models import Payment
from tasks import payments as payment_tasks
from tests.support.factories import FailedTaskFactory, PaymentFactory

methods = import_module("apps.payments.migrations.0002_failed_at_stk_push")
task_names = import_module("apps.payments.migrations.0003_rename_failed_task_names")
REGISTERED = (
    payment_tasks.request_stk_push,
    payment_tasks.fulfil_payment,
    payment_tasks.settle_stk_by_query,
)


def test_the_stk_method_is_stored_as_stk_push_and_back(package):
    old = PaymentFactory(package=package, method="mpesa")
    paybill = PaymentFactory(package=package, method="paybill")
    methods.forwards(apps, None)
    assert Payment.objects.get(pk=old.pk).method == Payment.Method.STK_PUSH
    methods.backwards(apps, None)
    assert Payment.objects.get(pk=old.pk).method == "mpesa"
    assert Payment.objects.get(pk=paybill.pk).method == "paybill"


def test_failed_tasks_waiting_for_a_retry_get_the_new_task_names(db):
    rows = {
        old: FailedTaskFactory(task_name=old).pk
        for old in ("tasks.payments.process_payment", "tasks.payments.query_stk")
    }
    kept = FailedTaskFactory(task_name="tasks.payments.request_stk_push").pk
    task_names.forwards(apps, None)
    # Only this test's rows: workers of other tests commit failed tasks of their own.
    mine = [*rows.values(), kept]
    names = dict(FailedTask.objects.filter(pk__in=mine).values_list("pk", "task_name"))
    assert names[rows["tasks.payments.process_payment"]] == "tasks.payments.fulfil_payment"
    assert names[rows["tasks.payments.query_stk"]] == "tasks.payments.settle_stk_by_query"
    assert names[kept] == "tasks.payments.request_stk_push"
    assert set(names.values()) <= {task.name for task in REGISTERED}
    task_names.backwards(apps, None)
    assert FailedTask.objects.get(pk=rows["tasks.payments.query_stk"]).task_name == (
        "tasks.payments.query_stk"
    )
