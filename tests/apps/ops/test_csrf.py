"""CSRF is enforced on every state-changing action staff can take: the operations page's
retry, forget and flush, and every action of every admin list. A logged-in staff session
without the token gets 403 and changes nothing; the test client here checks tokens as a
browser's requests are checked."""

import pytest
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import reverse

from apps.ops.models import FailedTask
from tests.support.factories import FailedTaskFactory, MemberFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff():
    member = MemberFactory(is_staff=True, is_superuser=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    client.get("/admin/ops/")  # sets the csrftoken cookie, as opening the page does
    return client, member


@pytest.mark.parametrize("action", ["retry", "forget"])
def test_the_pages_row_actions_need_the_token(staff, action, empty_queues):
    client, _ = staff
    row = FailedTaskFactory()
    url = f"/admin/ops/failed/{row.pk}/{action}/"
    assert client.post(url).status_code == 403
    assert FailedTask.objects.filter(pk=row.pk).exists()
    token = client.cookies["csrftoken"].value
    assert client.post(url, HTTP_X_CSRFTOKEN=token).status_code == 200
    assert not FailedTask.objects.filter(pk=row.pk).exists()


def test_the_pages_flush_needs_the_token(staff):
    client, _ = staff
    FailedTaskFactory.create_batch(2)
    assert client.post("/admin/ops/failed/flush/").status_code == 403
    assert FailedTask.objects.count() == 2
    token = client.cookies["csrftoken"].value
    assert client.post("/admin/ops/failed/flush/", HTTP_X_CSRFTOKEN=token).json()["deleted"] == 2


def _admin_actions(member) -> list[tuple[str, str]]:
    """(changelist URL, action name) of every action of every registered admin."""
    request = RequestFactory().get("/admin/")
    request.user = member
    found = []
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        found += [(url, name) for name in model_admin.get_actions(request)]
    return found


def test_every_admin_action_needs_the_token(staff):
    client, member = staff
    row = FailedTaskFactory()
    actions = _admin_actions(member)
    assert ("/admin/ops/failedtask/", "retry") in actions  # the list is the real one
    for url, name in actions:
        response = client.post(url, {"action": name, "_selected_action": [row.pk]})
        assert response.status_code == 403, (url, name)
    assert FailedTask.objects.filter(pk=row.pk).exists()
    token = client.cookies["csrftoken"].value
    response = client.post(
        "/admin/ops/failedtask/",
        {"action": "forget", "_selected_action": [row.pk], "csrfmiddlewaretoken": token},
    )
    assert response.status_code == 302
    assert not FailedTask.objects.filter(pk=row.pk).exists()
