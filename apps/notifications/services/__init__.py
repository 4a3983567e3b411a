"""Writes of the notifications domain, one module per sub-domain:

- ``writing``: notify() and friends write one row per channel in the caller's transaction and
  queue delivery on commit; members' reads and choices; staff alerts.
- ``delivery``: a notice delivered at most once (claim, call, record), resend, the reconciler.
- ``reports``: Africa's Talking's delivery reports.
- ``broadcasts``: a notice to every active member, in chunks.
- ``messages``: staff write to a segment of members (a broadcast of their text).
- ``documents``: staff told that a report or export is ready.

Callers import from here: ``from apps.notifications.services import notify``.
"""

from apps.notifications.services.broadcasts import (
    broadcast_advance,
    broadcast_check,
    broadcast_for_event,
    broadcast_start,
)
from apps.notifications.services.delivery import (
    DeliveryFailed,
    email_pace,
    notification_deliver,
    notification_delivery_failed,
    notification_resend,
    notifications_reconcile,
    sms_pace,
)
from apps.notifications.services.documents import document_ready_tell
from apps.notifications.services.messages import staff_message_send, staff_message_sent
from apps.notifications.services.reports import sms_delivery_report
from apps.notifications.services.writing import (
    notification_mark_read,
    notify,
    notify_members,
    notify_staff,
    preference_set,
    task_failure_alert,
)

__all__ = [
    "DeliveryFailed",
    "broadcast_advance",
    "broadcast_check",
    "broadcast_for_event",
    "broadcast_start",
    "document_ready_tell",
    "email_pace",
    "notification_deliver",
    "notification_delivery_failed",
    "notification_mark_read",
    "notification_resend",
    "notifications_reconcile",
    "notify",
    "notify_members",
    "notify_staff",
    "preference_set",
    "sms_delivery_report",
    "sms_pace",
    "staff_message_send",
    "staff_message_sent",
    "task_failure_alert",
]
