"""Provisioning's conditional updates guard what follows them: a failure is recorded by the
call that marked it only, and a router job that outlives the subscription takes its add back."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.ops.models import AdminEvent
from apps.provisioning import services
from apps.provisioning.models import Router, Subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def sub(paid, router, django_capture_on_commit_callbacks) -> Subscription:
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        payment, member = paid()
        return services.subscription_create_for_payment(payment=payment, member=member)


def failed_events() -> int:
    return AdminEvent.objects.filter(type=AdminEvent.Type.PROVISIONING_FAILED).count()


def test_the_failure_path_run_twice_emits_one_event(sub):
    assert services.subscription_provisioning_failed(subscription_id=sub.pk, error="first")
    Router.objects.filter(pk=sub.router_id).update(last_error="")
    assert not services.subscription_provisioning_failed(subscription_id=sub.pk, error="second")
    assert failed_events() == 1
    sub.refresh_from_db()
    assert (sub.status, sub.error) == ("failed", "first")
    assert Router.objects.get(pk=sub.router_id).last_error == ""  # nor the router's error


def test_a_late_failure_of_a_provisioned_subscription_records_nothing(sub, router_sim):
    assert services.subscription_provision(subscription_id=sub.pk) == "provisioned"
    assert not services.subscription_provisioning_failed(subscription_id=sub.pk, error="late")
    assert failed_events() == 0
    assert Subscription.objects.get(pk=sub.pk).status == "provisioned"


def test_a_job_at_the_router_when_the_subscription_ends_takes_the_user_back(sub, router_sim):
    # Each RouterOS reply takes 0.2 s and the job needs several: the end passes meanwhile.
    router_sim.knobs(latency=0.2)
    commands = router_sim.state()["counts"]["commands"]
    Subscription.objects.filter(pk=sub.pk).update(ends_at=timezone.now() + timedelta(seconds=0.5))
    assert services.subscription_provision(subscription_id=sub.pk) == "skipped"
    router_sim.knobs(latency=0.005)
    assert router_sim.state()["users"] == []
    assert router_sim.state()["counts"]["commands"] > commands + 4  # added, then removed
    assert Subscription.objects.get(pk=sub.pk).status == "pending"
    assert not AdminEvent.objects.filter(type=AdminEvent.Type.USER_PROVISIONED).exists()
