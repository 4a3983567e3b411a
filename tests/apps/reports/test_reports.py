"""The scheduled housekeeping: summaries of whole days asked for as files, history pruned."""

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.documents.services import window
from apps.ops.models import AdminEvent, FailedTask
from apps.ops.services import history_prune
from apps.payments.models import Payment
from apps.reports.services import report_lines, report_period, report_send
from tests.support.factories import AdminEventFactory, FailedTaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_history():
    """Workers of earlier tests commit their failures outside any test's transaction."""
    FailedTask.objects.all().delete()
    AdminEvent.objects.all().delete()
    Payment.objects.all().delete()


def test_the_daily_report_counts_yesterday_whole(package, empty_queues):
    today = timezone.localdate()
    noon = datetime.combine(today, time(12), timezone.get_current_timezone())
    for n, age in enumerate((timedelta(days=1), timedelta(hours=35), timedelta(0), timedelta(2))):
        Payment.objects.create(
            reference=f"HR{n:04d}",
            package=package,
            phone="254712345678",
            amount=Decimal(50),
            status="fulfilled",
            fulfilled_at=noon - age,  # yesterday noon, yesterday 01:00, today, two days ago
        )
    FailedTaskFactory(queue="payments", failed_at=noon - timedelta(days=1))
    document = report_send(period="day")
    yesterday = today - timedelta(days=1)
    assert document.source == "summary" and document.format == "pdf"
    assert document.params == {"since": str(yesterday), "until": str(yesterday)}
    start, end = window(document.params)
    lines = dict(report_lines(since=start, until=end))
    assert lines["payments fulfilled"] == "2, KES 100.00"
    assert lines["failed tasks"] == "payments 1"
    assert report_send(period="day").pk == document.pk  # while it is made, the same one


@pytest.mark.parametrize(
    ("period", "today", "since", "until"),
    [
        ("day", date(2026, 3, 1), date(2026, 2, 28), date(2026, 2, 28)),
        ("week", date(2026, 11, 29), date(2026, 11, 22), date(2026, 11, 28)),
        ("month", date(2026, 3, 1), date(2026, 2, 1), date(2026, 2, 28)),
        ("month", date(2026, 1, 1), date(2025, 12, 1), date(2025, 12, 31)),
        ("month", date(2024, 3, 15), date(2024, 2, 1), date(2024, 2, 29)),
    ],
)
def test_periods_are_whole_days_and_the_month_is_the_calendar_month(period, today, since, until):
    assert report_period(period=period, today=today) == (since, until)


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
