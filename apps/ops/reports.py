"""Daily, weekly and monthly reports: what the last period moved, mailed to ADMINS and
logged (the seeds' scheduled reports)."""

import logging
from datetime import timedelta

from django.core.mail import mail_admins
from django.db.models import Count, Sum
from django.utils import timezone

from apps.commissions.models import CommissionLedger
from apps.common.errors import ApplicationError
from apps.common.money import cents
from apps.ops.models import FailedTask
from apps.payments.models import Payment
from apps.provisioning.models import Subscription
from apps.wallets.models import Earning

log = logging.getLogger("conveyor.ops.reports")

PERIODS = {"day": timedelta(days=1), "week": timedelta(weeks=1), "month": timedelta(days=30)}


def report_lines(*, since, until) -> list[str]:
    payments = Payment.objects.filter(fulfilled_at__gte=since, fulfilled_at__lt=until)
    paid = payments.aggregate(n=Count("pk"), kes=Sum("amount"))
    failed = Payment.objects.filter(status="failed", updated_at__gte=since, updated_at__lt=until)
    subs = Subscription.objects.filter(updated_at__gte=since, updated_at__lt=until)
    by_status = dict(subs.values_list("status").annotate(n=Count("pk")))
    disbursed = CommissionLedger.objects.filter(
        processed_at__gte=since, processed_at__lt=until
    ).aggregate(n=Count("pk"), kes=Sum("amount"))
    matured = Earning.objects.filter(matured_at__gte=since, matured_at__lt=until).aggregate(
        n=Count("pk"), kes=Sum("amount")
    )
    failures = FailedTask.objects.filter(failed_at__gte=since, failed_at__lt=until)
    per_queue = dict(failures.values_list("queue").annotate(n=Count("pk")))
    return [
        f"payments fulfilled: {paid['n']}, KES {cents(paid['kes'])}",
        f"payments failed: {failed.count()}",
        "subscriptions changed: "
        + (", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) or "none"),
        f"commissions disbursed: {disbursed['n']}, KES {cents(disbursed['kes'])}",
        f"earnings matured: {matured['n']}, KES {cents(matured['kes'])}",
        "failed tasks: " + (", ".join(f"{k} {v}" for k, v in sorted(per_queue.items())) or "none"),
    ]


def report_send(*, period: str) -> str:
    if period not in PERIODS:
        raise ApplicationError(f"Unknown report period {period!r}; one of {', '.join(PERIODS)}.")
    until = timezone.now()
    since = until - PERIODS[period]
    lines = report_lines(since=since, until=until)
    subject = f"Conveyor {period} report, {timezone.localtime(since):%Y-%m-%d %H:%M} onwards"
    body = "\n".join(lines) + "\n"
    log.info("report.%s %s", period, " | ".join(lines))
    mail_admins(subject, body)
    return body
