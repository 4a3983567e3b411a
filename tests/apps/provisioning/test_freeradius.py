"""A real FreeRADIUS (rlm_sql on the test database) answers radclient for our rows."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.provisioning import services
from apps.provisioning.models import RadCheck, Subscription
from apps.provisioning.radius import radius_date

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def subscription(paid, router) -> Subscription:
    with transaction.atomic():
        payment, member = paid()
        return services.subscription_create_for_payment(payment=payment, member=member)


def test_a_provisioned_user_is_accepted_with_its_limits(freeradius, subscription):
    answer = freeradius.authenticate(subscription.username, subscription.password)
    assert "Received Access-Accept" in answer, answer
    assert 'Mikrotik-Rate-Limit = "2M/2M"' in answer
    assert "Session-Timeout = " in answer


def test_a_wrong_password_is_rejected(freeradius, subscription):
    answer = freeradius.authenticate(subscription.username, "not-the-password")
    assert "Received Access-Reject" in answer, answer


def test_an_unknown_user_is_rejected(freeradius, db):
    assert "Received Access-Reject" in freeradius.authenticate("hsnobody", "whatever")


def test_past_its_expiration_the_user_is_rejected_and_after_the_sweep_too(freeradius, subscription):
    past = timezone.localtime(
        timezone.now() - timedelta(minutes=5), ZoneInfo(settings.RADIUS_TIME_ZONE)
    )
    RadCheck.objects.filter(username=subscription.username, attribute="Expiration").update(
        value=radius_date(past)
    )
    assert "Received Access-Reject" in freeradius.authenticate(
        subscription.username, subscription.password
    )

    Subscription.objects.filter(pk=subscription.pk).update(ends_at=timezone.now())
    assert services.subscription_expire(subscription_id=subscription.pk) == "expired"
    assert not RadCheck.objects.filter(username=subscription.username).exists()
    assert "Received Access-Reject" in freeradius.authenticate(
        subscription.username, subscription.password
    )
