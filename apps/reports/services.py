"""Daily, weekly and monthly reports: what the last period moved, mailed to ADMINS and
logged (the seeds' scheduled reports), composed from each domain's summary selector."""

import logging
from datetime import timedelta

from django.core.mail import mail_admins
from django.utils import timezone

from apps.commissions.selectors import commissions_summary
from apps.common.errors import ApplicationError
from apps.ops.selectors import failed_tasks_summary
from apps.payments.selectors import payments_summary
from apps.provisioning.selectors import subscriptions_summary
from apps.wallets.selectors import earnings_summary

log = logging.getLogger("conveyor.reports")

PERIODS = {"day": timedelta(days=1), "week": timedelta(weeks=1), "month": timedelta(days=30)}


def report_lines(*, since, until) -> list[str]:
    window = {"since": since, "until": until}
    payments = payments_summary(**window)
    subscriptions = subscriptions_summary(**window)
    commissions = commissions_summary(**window)
    earnings = earnings_summary(**window)
    failures = failed_tasks_summary(**window)
    return [
        f"payments fulfilled: {payments['fulfilled']}, KES {payments['fulfilled_total']}",
        f"payments failed: {payments['failed']}",
        f"subscriptions changed: {_counts(subscriptions)}",
        f"commissions disbursed: {commissions['disbursed']}, KES {commissions['disbursed_total']}",
        f"earnings matured: {earnings['matured']}, KES {earnings['matured_total']}",
        f"failed tasks: {_counts(failures)}",
    ]


def _counts(by_key: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(by_key.items())) or "none"


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
