"""Africa's Talking's delivery reports: idempotent, a final state never moves."""

import logging
from datetime import timedelta

from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.notifications.models import Channel, Notification, Status

log = logging.getLogger("conveyor.notifications")


# Delivery reports (Africa's Talking's status) → our status; the rest are on the way.
REPORT_FINAL = {"Success": Status.DELIVERED, "Rejected": Status.FAILED, "Failed": Status.FAILED}
REPORT_ON_THE_WAY = {"Sent", "Submitted", "Buffered"}
# A report for an id we never recorded may be for a row whose run died after the gateway took
# it: adopted when exactly one such row to that number was claimed this recently.
ADOPT_WITHIN = timedelta(hours=6)


def sms_delivery_report(
    *, provider_id: str, status: str, phone: str, failure_reason: str = ""
) -> str:
    """Apply one delivery report; idempotent (a final state never moves). Returns what it did:
    "delivered", "failed", "sent", "ignored" (a duplicate, or a report after a final one),
    "unknown_id" (not ours: a no-op)."""
    if status not in REPORT_FINAL and status not in REPORT_ON_THE_WAY:
        raise ApplicationError(f"unknown delivery status {status!r}")
    row = _reported_row(provider_id, phone)
    if row is None:
        log.info("notification.report_unknown id=%s status=%s", provider_id, status)
        return "unknown_id"
    open_states = (Status.SENDING, Status.SENT, Status.UNKNOWN)
    rows = Notification.objects.filter(pk=row.pk, status__in=open_states)
    if status in REPORT_ON_THE_WAY:
        # It reached the gateway: UNKNOWN (or still SENDING) becomes SENT; a SENT row waits
        # for the final report.
        moved = rows.exclude(status=Status.SENT).update(status=Status.SENT, sent_at=F("claimed_at"))
        return "sent" if moved else "ignored"
    target = REPORT_FINAL[status]
    fields = {"status": target, "sent_at": Coalesce("sent_at", "claimed_at")}
    if target == Status.DELIVERED:
        fields["delivered_at"] = timezone.now()
    else:
        fields["reason"] = (failure_reason or status)[:100]
    moved = rows.update(**fields)
    log.info("notification.report id=%s status=%s applied=%s", row.pk, status, bool(moved))
    return str(target) if moved else "ignored"


def _reported_row(provider_id: str, phone: str) -> Notification | None:
    row = Notification.objects.filter(channel=Channel.SMS, provider_id=provider_id).first()
    if row is not None or not provider_id or not phone:
        return row
    orphans = list(
        Notification.objects.filter(
            channel=Channel.SMS,
            provider_id="",
            address=phone,
            status__in=(Status.SENDING, Status.UNKNOWN),
            claimed_at__gte=timezone.now() - ADOPT_WITHIN,
        ).only("pk")[:2]
    )
    if len(orphans) != 1:
        return None
    adopted = Notification.objects.filter(pk=orphans[0].pk, provider_id="").update(
        provider_id=provider_id[:100]
    )
    if not adopted:
        # Its run recorded the gateway's id meanwhile (a report can overtake the run that
        # sent it): this report's, found by it now, or another's.
        return Notification.objects.filter(channel=Channel.SMS, provider_id=provider_id).first()
    log.warning("notification.report_adopted id=%s provider_id=%s", orphans[0].pk, provider_id)
    return orphans[0]
