"""Reports: the scheduled daily, weekly and monthly summaries, and any report or export on
demand, all files made on the documents queue (apps/documents) from the sources in
sources.py.

A scheduled summary covers whole local days: "day" is yesterday, "week" the seven days that
ended yesterday, "month" the last calendar month. Its file is mailed to ADMINS and staff as a
link once ready (the document_ready listener); a second run for the same period while the
first is being made is the same document."""

import logging
from datetime import date, timedelta

from django.conf import settings
from django.utils import timezone

from apps.commissions.selectors import commissions_summary
from apps.common.errors import ApplicationError
from apps.documents.services import document_request, window
from apps.documents.sources import Source, register
from apps.ops.selectors import failed_tasks_summary
from apps.payments.selectors import payments_summary
from apps.provisioning.selectors import subscriptions_summary
from apps.wallets.selectors import earnings_summary

log = logging.getLogger("conveyor.reports")

PERIODS = ("day", "week", "month")
MEASURES = (
    "payments fulfilled",
    "payments failed",
    "subscriptions changed",
    "commissions disbursed",
    "earnings matured",
    "failed tasks",
)


def report_lines(*, since, until) -> list[tuple[str, str]]:
    """What the window moved, as (measure, value) pairs."""
    window_ = {"since": since, "until": until}
    payments = payments_summary(**window_)
    subscriptions = subscriptions_summary(**window_)
    commissions = commissions_summary(**window_)
    earnings = earnings_summary(**window_)
    failures = failed_tasks_summary(**window_)
    values = [
        f"{payments['fulfilled']}, KES {payments['fulfilled_total']}",
        str(payments["failed"]),
        _counts(subscriptions),
        f"{commissions['disbursed']}, KES {commissions['disbursed_total']}",
        f"{earnings['matured']}, KES {earnings['matured_total']}",
        _counts(failures),
    ]
    return list(zip(MEASURES, values, strict=True))


def _counts(by_key: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(by_key.items())) or "none"


def _summary_rows(params: dict, after, limit: int):
    if after is not None:
        return []  # a summary is one chunk
    start, end = window(params)
    return [(1, row) for row in report_lines(since=start, until=end)]


def register_summary() -> None:
    register(
        Source(
            "summary",
            "Summary",
            ("measure", "value"),
            _summary_rows,
            lambda params: len(MEASURES),
        )
    )


def report_period(*, period: str, today: date | None = None) -> tuple[date, date]:
    """The whole local days a scheduled ``period`` covers, inclusive."""
    if period not in PERIODS:
        raise ApplicationError(f"Unknown report period {period!r}; one of {', '.join(PERIODS)}.")
    today = today or timezone.localdate()
    yesterday = today - timedelta(days=1)
    if period == "day":
        return yesterday, yesterday
    if period == "week":
        return today - timedelta(days=7), yesterday
    last_month_end = today.replace(day=1) - timedelta(days=1)
    return last_month_end.replace(day=1), last_month_end


def report_send(*, period: str, today: date | None = None):
    """A scheduled summary: the document asked for (mailed as a link once made)."""
    since, until = report_period(period=period, today=today)
    document, new = document_request(
        source="summary",
        fmt=settings.REPORT_SCHEDULED_FORMAT,
        since=since,
        until=until,
        title=f"Conveyor {period} report, {since} to {until}",
    )
    log.info("report.%s document=%s new=%s", period, document.pk, new)
    return document
