"""FailedTask in Django admin: listed, shown with its traceback, retried and forgotten."""

import pytest
from django.urls import reverse

import tests.support.probes  # noqa: F401  (registers the probe tasks in this process)
from apps.ops.models import FailedTask
from tests.support.factories import FailedTaskFactory

pytestmark = pytest.mark.django_db(transaction=True)  # retries publish once they commit

CHANGELIST = reverse("admin:ops_failedtask_changelist")


def act(client, action: str, *rows):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [r.pk for r in rows]}, follow=True
    )


def test_the_admin_needs_a_login(client):
    response = client.get(CHANGELIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_failed_tasks_are_listed_and_shown_with_their_traceback(staff_client):
    row = FailedTaskFactory(traceback="Traceback (most recent call last):\n  <frame & more>")
    listing = staff_client.get(CHANGELIST)
    assert listing.status_code == 200
    assert row.task_name in listing.text and "ValueError: boom" in listing.text
    detail = staff_client.get(reverse("admin:ops_failedtask_change", args=[row.pk]))
    assert detail.status_code == 200
    assert "&lt;frame &amp; more&gt;" in detail.text  # escaped, inside <pre>


def test_retry_action_publishes_and_deletes(staff_client, redis_client, empty_queues):
    rows = FailedTaskFactory.create_batch(2, queue="default")
    response = act(staff_client, "retry", *rows)
    assert "2 failed task(s) retried." in response.text
    assert not FailedTask.objects.exists()
    assert redis_client.llen("default") == 2


def test_retry_action_reports_a_task_it_cannot_retry(staff_client, empty_queues):
    row = FailedTaskFactory(task_name="tasks.default.gone")
    response = act(staff_client, "retry", row)
    assert "tasks.default.gone is not a registered task; kept." in response.text
    assert FailedTask.objects.filter(pk=row.pk).exists()


def test_forget_action_deletes_without_running(staff_client, redis_client, empty_queues):
    row, kept = FailedTaskFactory(), FailedTaskFactory()
    response = act(staff_client, "forget", row)
    assert "1 failed task(s) forgotten." in response.text
    assert list(FailedTask.objects.values_list("pk", flat=True)) == [kept.pk]
    assert redis_client.llen("payments") == 0


def test_failed_tasks_cannot_be_added_or_edited(staff_client):
    row = FailedTaskFactory()
    assert staff_client.get(reverse("admin:ops_failedtask_add")).status_code == 403
    staff_client.post(reverse("admin:ops_failedtask_change", args=[row.pk]), {"attempts": 99})
    row.refresh_from_db()
    assert row.attempts == 1
