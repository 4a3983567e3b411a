"""The scheduled housekeeping: reports mailed to ADMINS, history pruned."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.ops.models import AdminEvent, FailedTask
from apps.ops.services import history_prune
from apps.payments.models import Payment
from apps.reports.services import report_send
from tests.support.factories import AdminEventFactory, FailedTaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_history():
    """Workers of earlier tests commit their failures outside any test's transaction."""
    FailedTask.objects.all().delete()
    AdminEvent.objects.all().delete()
    Payment.objects.all().delete()


def test_the_daily_report_counts_the_day_and_mails_admins(package, mailoutbox):
    now = timezone.now()
    for n, age in enumerate((timedelta(0), timedelta(hours=2), timedelta(days=2))):
        Payment.objects.create(
            reference=f"HR{n:04d}",
            package=package,
            phone="254712345678",
            amount=Decimal(50),
            status="fulfilled",
            fulfilled_at=now - age,
        )
    FailedTaskFactory(queue="payments")
    body = report_send(period="day")
    assert "payments fulfilled: 2, KES 100.00" in body  # the one two days old is not the day's
    assert "failed tasks: payments 1" in body
    [mail] = mailoutbox
    assert mail.subject.startswith("[Conveyor] Conveyor day report") and mail.body == body


def test_an_unknown_period_is_refused():
    with pytest.raises(ApplicationError, match="fortnight"):
        report_send(period="fortnight")


def test_pruning_forgets_only_what_is_older_than_the_kept_days(settings):
    settings.HISTORY_KEEP_DAYS = 30
    old = timezone.now() - timedelta(days=31)
    FailedTaskFactory(failed_at=old)
    recent = FailedTaskFactory()
    AdminEventFactory(created_at=old)
    kept = AdminEventFactory()
    assert history_prune() == 2
    assert list(FailedTask.objects.all()) == [recent]
    assert list(AdminEvent.objects.all()) == [kept]
