"""Subscriptions: credentials, FreeRADIUS rows, the router, expiry, what the buyer sees."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.utils import timezone

from apps.ops.models import AdminEvent
from apps.provisioning import radius, services
from apps.provisioning.models import RadCheck, RadReply, RadUserGroup, Router, Subscription
from config.env import BASE_DIR

pytestmark = pytest.mark.django_db


@pytest.fixture
def handed_off(paid, router, django_capture_on_commit_callbacks):
    def make(**payment) -> Subscription:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            payment, member = paid(**payment)
            return services.subscription_create_for_payment(payment=payment, member=member)

    return make


def rows(table, username: str) -> dict:
    return {r.attribute: (r.op, r.value) for r in table.objects.filter(username=username)}


def test_the_hand_off_makes_credentials_and_radius_rows(
    handed_off, redis_client, empty_queues, settings
):
    sub = handed_off()
    assert sub.username == sub.payment.reference.lower()
    assert len(sub.password) == 8 and sub.status == "pending"
    assert sub.ends_at - sub.starts_at == timedelta(hours=1)
    checks = rows(RadCheck, sub.username)
    assert checks["Cleartext-Password"] == (":=", sub.password)
    assert checks["Simultaneous-Use"] == (":=", "1")
    expires = timezone.localtime(sub.ends_at, ZoneInfo(settings.RADIUS_TIME_ZONE))
    assert checks["Expiration"] == (":=", f"{expires:%b %d %Y %H:%M:%S}")
    assert rows(RadReply, sub.username) == {}  # the plan group carries the package's limits
    assert list(RadUserGroup.objects.values_list("username", "groupname")) == [
        (sub.username, "plan-1h")
    ]
    [message] = redis_client.lrange("provisioning", 0, -1)
    assert json.loads(message)["headers"]["task"] == "tasks.provisioning.provision_subscription"


def test_the_hand_off_twice_for_one_payment_makes_nothing_twice(handed_off, paid):
    sub = handed_off()
    again = services.subscription_create_for_payment(payment=sub.payment, member=sub.member)
    assert again.pk == sub.pk
    assert Subscription.objects.count() == 1
    assert RadCheck.objects.count() == 3


def test_secrets_are_encrypted_at_rest(handed_off, router):
    sub = handed_off()
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM provisioning_subscription WHERE id = %s", [sub.pk])
        [stored] = cursor.fetchone()
        cursor.execute("SELECT password FROM provisioning_router WHERE id = %s", [router.pk])
        [router_stored] = cursor.fetchone()
    assert stored != sub.password and stored.startswith("gAAAA")
    assert router_stored != router.password
    assert Subscription.objects.get(pk=sub.pk).password == sub.password


def test_provisioning_puts_the_user_on_the_router_once(handed_off, router_sim):
    sub = handed_off()
    assert services.subscription_provision(subscription_id=sub.pk) == "provisioned"
    assert services.subscription_provision(subscription_id=sub.pk) == "skipped"
    [user] = router_sim.state()["users"]
    assert user["name"] == sub.username and user["password"] == sub.password
    assert (user["profile"], user["limit-uptime"]) == ("conveyor-1h", "1h")
    assert user["limit-bytes-total"] == str(5 * 2**30)
    assert user["comment"] == f"conveyor:{sub.payment.reference}"
    sub.refresh_from_db()
    assert sub.status == "provisioned" and sub.provisioned_at
    [event] = AdminEvent.objects.filter(type=AdminEvent.Type.USER_PROVISIONED)
    assert event.payload["subscription"]["username"] == sub.username
    assert event.payload["router"]["name"] == "Main Office Router"


def test_a_failed_subscription_can_be_provisioned_later(handed_off, router_sim):
    sub = handed_off()
    services.subscription_provisioning_failed(subscription_id=sub.pk, error="OSError: refused")
    sub.refresh_from_db()
    assert (sub.status, sub.error) == ("failed", "OSError: refused")
    assert AdminEvent.objects.filter(type=AdminEvent.Type.PROVISIONING_FAILED).count() == 1
    assert services.subscription_provision(subscription_id=sub.pk) == "provisioned"
    sub.refresh_from_db()
    assert (sub.status, sub.error) == ("provisioned", "")


def test_expiry_takes_the_user_off_radius_and_the_router(
    handed_off, router_sim, django_capture_on_commit_callbacks
):
    sub = handed_off()
    services.subscription_provision(subscription_id=sub.pk)
    router_sim.login_user(sub.username)
    assert services.subscription_expire(subscription_id=sub.pk) == "not due"

    Subscription.objects.filter(pk=sub.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert services.subscriptions_expire() == 1
    assert len(sent) == 1
    assert services.subscription_expire(subscription_id=sub.pk) == "expired"
    assert services.subscription_expire(subscription_id=sub.pk) == "skipped"
    state = router_sim.state()
    assert state["users"] == [] and state["active"] == []
    assert not RadCheck.objects.filter(username=sub.username).exists()
    assert not RadReply.objects.filter(username=sub.username).exists()
    sub.refresh_from_db()
    assert sub.status == "expired" and sub.expired_at


def test_a_stuck_subscription_is_sent_again_once(
    handed_off, settings, django_capture_on_commit_callbacks
):
    sub = handed_off()
    old = timezone.now() - timedelta(seconds=settings.PROVISION_NUDGE_AFTER + 5)
    Subscription.objects.filter(pk=sub.pk).update(created_at=old, updated_at=old)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert services.subscriptions_reconcile() == 1
        assert services.subscriptions_reconcile() == 0
    assert len(sent) == 1


def test_router_health_is_recorded(router, router_sim):
    assert services.router_check(router_id=router.pk) is True
    router.refresh_from_db()
    assert router.resources["identity"] == "conveyor-sim" and router.last_seen_at
    router_sim.knobs(down=True)
    assert services.router_check(router_id=router.pk) is False
    router.refresh_from_db()
    assert "Connection refused" in router.last_error or "Errno" in router.last_error


def test_the_buyer_sees_credentials_only_once_provisioned(handed_off, client):
    sub = handed_off()
    before = client.get(f"/api/payments/{sub.payment.pk}/").json()
    assert before["subscription"] == {"status": "pending", "expires_at": sub.ends_at.isoformat()}
    services.subscription_provision(subscription_id=sub.pk)
    after = client.get(f"/api/payments/{sub.payment.pk}/").json()["subscription"]
    assert (after["status"], after["username"], after["password"]) == (
        "provisioned",
        sub.username,
        sub.password,
    )


def test_no_router_means_radius_alone(paid, package, django_capture_on_commit_callbacks):
    Router.objects.all().delete()
    payment, member = paid()
    sub = services.subscription_create_for_payment(payment=payment, member=member)
    assert sub.router is None
    assert services.subscription_provision(subscription_id=sub.pk) == "provisioned"
    sub.refresh_from_db()
    assert sub.status == "provisioned"
    [event] = AdminEvent.objects.filter(type=AdminEvent.Type.USER_PROVISIONED)
    assert event.payload["router"] is None


def test_radius_dates_are_written_as_freeradius_reads_them():
    from datetime import datetime

    moment = datetime(2025, 3, 15, 10, 15, 47, tzinfo=ZoneInfo("Africa/Nairobi"))
    assert radius.radius_date(moment) == "Mar 15 2025 10:15:47"


def test_each_sweep_takes_at_most_the_sweep_batch(
    handed_off, settings, django_capture_on_commit_callbacks
):
    settings.PROVISIONING_SWEEP_BATCH = 2
    ids = [handed_off(phone=f"25471100000{i}").pk for i in range(3)]
    old = timezone.now() - timedelta(seconds=settings.PROVISION_NUDGE_AFTER + 5)
    Subscription.objects.filter(pk__in=ids).update(created_at=old, updated_at=old)
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert services.subscriptions_reconcile() == 2
    assert len(sent) == 2

    Subscription.objects.filter(pk__in=ids).update(ends_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert services.subscriptions_expire() == 2
    assert len(sent) == 2


@pytest.mark.parametrize(
    ("environment", "batch"),
    [
        ({}, "500"),
        ({"EXPIRE_BATCH": "7"}, "7"),
        ({"EXPIRE_BATCH": "7", "PROVISIONING_SWEEP_BATCH": "9"}, "9"),
    ],
)
def test_the_sweep_batch_still_reads_its_old_name(environment, batch):
    env = {
        k: v for k, v in os.environ.items() if k not in ("EXPIRE_BATCH", "PROVISIONING_SWEEP_BATCH")
    }
    env.update(environment, DJANGO_READ_DOT_ENV_FILE="false")
    read = "from config.settings.provisioning import PROVISIONING_SWEEP_BATCH as b; print(b)"
    answer = subprocess.run(
        [sys.executable, "-c", read], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )
    assert answer.stdout.strip() == batch, answer.stderr
