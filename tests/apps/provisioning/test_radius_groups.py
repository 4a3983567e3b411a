"""RADIUS plan groups carry their plan: a package's limits are radgroupreply rows, written
when the package is added or edited in admin, and FreeRADIUS answers with them."""

from datetime import timedelta

import pytest
from django.db import transaction

from apps.payments.models import Package
from apps.provisioning import services
from apps.provisioning.models import RadGroupReply, RadReply, RadUserGroup

pytestmark = pytest.mark.django_db(transaction=True)  # FreeRADIUS reads committed rows

FORM = {
    "code": "2h",
    "name": "Two hours",
    "price": "80",
    "duration": "2:00:00",
    "rate_limit": "3M/3M",
    "data_cap_bytes": "",
    "is_active": "on",
    "sort_order": "0",
}


def group(code: str) -> dict[str, tuple[str, str]]:
    rows = RadGroupReply.objects.filter(groupname=f"plan-{code}")
    return {r.attribute: (r.op, r.value) for r in rows}


def edit(staff_client, package: Package, **changes) -> None:
    """Save the package through the admin's change view, as staff would."""
    form = {
        **FORM,
        "code": package.code,
        "name": package.name,
        "price": str(package.price),
        "duration": str(package.duration),
        "rate_limit": package.rate_limit,
        "data_cap_bytes": package.data_cap_bytes or "",
        **changes,
    }
    response = staff_client.post(f"/admin/payments/package/{package.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_adding_a_package_in_admin_writes_its_plan_group(staff_client):
    response = staff_client.post(
        "/admin/payments/package/add/", {**FORM, "data_cap_bytes": str(6 * 2**30)}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert group("2h") == {
        "Session-Timeout": ("=", "7200"),
        "Mikrotik-Rate-Limit": ("=", "3M/3M"),
        "Mikrotik-Total-Limit": ("=", str(6 * 2**30 % 2**32)),
        "Mikrotik-Total-Limit-Gigawords": ("=", "1"),
    }


def test_an_edit_replaces_the_group_and_keeps_rows_staff_added(staff_client, package):
    services.radius_group_write(package=package)
    RadGroupReply.objects.create(
        groupname="plan-1h", attribute="Acct-Interim-Interval", op=":=", value="300"
    )
    edit(staff_client, package, rate_limit="4M/4M", data_cap_bytes="", duration="0:30:00")
    assert group("1h") == {
        "Session-Timeout": ("=", "1800"),
        "Mikrotik-Rate-Limit": ("=", "4M/4M"),
        "Acct-Interim-Interval": (":=", "300"),
    }
    edit(staff_client, Package.objects.get(pk=package.pk))  # saved again unchanged
    assert RadGroupReply.objects.filter(groupname="plan-1h").count() == 3


def test_a_new_code_moves_the_members_to_the_new_group(staff_client, package, paid, router):
    with transaction.atomic():
        payment, member = paid()
        sub = services.subscription_create_for_payment(payment=payment, member=member)
    edit(staff_client, package, code="hour")
    assert group("1h") == {}
    assert group("hour")["Mikrotik-Rate-Limit"] == ("=", "2M/2M")
    assert RadUserGroup.objects.get(username=sub.username).groupname == "plan-hour"


def test_a_package_made_outside_admin_gets_its_group_with_its_first_subscription(
    paid, package, router
):
    assert group("1h") == {}
    with transaction.atomic():
        payment, member = paid()
        sub = services.subscription_create_for_payment(payment=payment, member=member)
    assert group("1h")["Session-Timeout"] == ("=", "3600")
    assert not RadReply.objects.filter(username=sub.username).exists()


def test_the_access_accept_carries_the_groups_rate_limit_and_an_admin_edit_changes_it(
    freeradius, staff_client, paid, package, router
):
    with transaction.atomic():
        payment, member = paid()
        sub = services.subscription_create_for_payment(payment=payment, member=member)
    assert not RadReply.objects.filter(username=sub.username).exists()  # only the group has it
    answer = freeradius.authenticate(sub.username, sub.password)
    assert "Received Access-Accept" in answer, answer
    assert 'Mikrotik-Rate-Limit = "2M/2M"' in answer, answer
    assert "Mikrotik-Total-Limit-Gigawords = 1" in answer, answer

    edit(staff_client, package, rate_limit="512k/1M", duration=str(timedelta(hours=1)))
    answer = freeradius.authenticate(sub.username, sub.password)
    assert "Received Access-Accept" in answer, answer
    assert 'Mikrotik-Rate-Limit = "512k/1M"' in answer, answer
    assert "2M/2M" not in answer
