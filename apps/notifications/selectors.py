"""Reads of notifications: a member's inbox, counts for the operations page, a broadcast's
progress, who may send one."""

from datetime import timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.accounts.models import Member
from apps.common.errors import ApplicationError
from apps.notifications.models import Broadcast, Channel, Notification, Preference, Status
from apps.ops import panels
from apps.ops.models import Batch

# Statuses the operations page counts, per channel: what went out, what did not, what waits.
SENT = (Status.SENT, Status.DELIVERED)
WAITING = (Status.PENDING, Status.SENDING)


def claimable() -> Q:
    """Rows a delivery run may claim: PENDING, or FAILED without the provider ever taking or
    refusing them (the gateway kept failing) and not resent since: queue_retry of their task
    may try them again."""
    # NOT EXISTS rather than a join: the claim stays one plain UPDATE on the row.
    resent = Exists(Notification.objects.filter(resend_of=OuterRef("pk")))
    never_reached = Q(status=Status.FAILED, provider_id="", reason="") & ~resent
    return Q(status=Status.PENDING) | never_reached


def notification_waiting(*, notification_id: int, run_id: str) -> bool:
    """Whether delivery run ``run_id`` has anything to do (asked before it spends a pacing
    token): a row to claim, or its own earlier attempt's claim to settle."""
    own_claim = Q(status=Status.SENDING, claimed_by=run_id[:64])
    return Notification.objects.filter(claimable() | own_claim, pk=notification_id).exists()


def inbox(*, member_id: int) -> QuerySet[Notification]:
    """A member's in-app notices, newest first."""
    return Notification.objects.filter(member_id=member_id, channel=Channel.IN_APP).order_by("-pk")


def unread_count(*, member_id: int) -> int:
    return inbox(member_id=member_id).filter(read_at__isnull=True).count()


def counts_since(*, since) -> dict[str, dict[str, int]]:
    """Notices written since ``since``, per channel: sent, failed, unknown, pending."""
    rows = (
        Notification.objects.filter(created_at__gte=since)
        .values_list("channel", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = {c: {"sent": 0, "failed": 0, "unknown": 0, "pending": 0} for c in Channel.values}
    for channel, status, n in rows:
        bucket = (
            "sent"
            if status in SENT
            else "pending"
            if status in WAITING
            else "failed"
            if status == Status.FAILED
            else "unknown"
        )
        counts[channel][bucket] += n
    return counts


def broadcasts_recent(*, limit: int = 5) -> list[Broadcast]:
    return list(Broadcast.objects.order_by("-pk")[:limit])


def _last_hour_panel() -> dict:
    counts = counts_since(since=timezone.now() - timedelta(hours=1))
    return {
        "columns": ["channel", "sent", "failed", "unknown", "pending"],
        "rows": [[Channel(c).label, *counts[c].values()] for c in counts],
    }


def _broadcasts_panel() -> dict:
    return {
        "columns": ["broadcast", "state", "done", "of", "%"],
        "rows": [[b.title, b.state, b.done, b.total, b.percent] for b in broadcasts_recent()],
        "progress_column": 4,
    }


def register_ops_panels() -> None:
    panels.register("notifications", "Notifications, last hour", _last_hour_panel)
    panels.register("broadcasts", "Broadcasts", _broadcasts_panel)


def preference_of(*, member_id: int) -> Preference:
    """The member's choice, or the default (in-app only) when they made none."""
    return Preference.objects.filter(member_id=member_id).first() or Preference(member_id=member_id)


def broadcast_progress(*, broadcast_id) -> dict:
    """A broadcast's writing (done of total members) and its sends (its batch's jobs: the
    writer and one per SMS or mail), and whether both are over."""
    broadcast = Broadcast.objects.filter(pk=broadcast_id).first()
    if broadcast is None:
        raise ApplicationError(f"There is no broadcast {broadcast_id}.")
    batch = Batch.objects.filter(pk=broadcast.batch_id).first() if broadcast.batch_id else None
    return {
        "broadcast": broadcast,
        "state": broadcast.state,
        "done": broadcast.done,
        "total": broadcast.total,
        "batch": batch and str(batch.pk),
        "jobs": batch.total if batch else 0,
        "processed": batch.processed if batch else 0,
        "failed": batch.failed if batch else 0,
        "finished": broadcast.state == Broadcast.State.FINISHED
        and (batch is None or batch.finished_at is not None),
    }


def staff_sender(*, phone: str) -> Member:
    """The staff member ``phone`` who may send a message to members, as admin asks."""
    member = Member.objects.filter(phone=phone, is_active=True, is_staff=True).first()
    if member is None:
        raise ApplicationError(f"No active staff member has the phone {phone}.")
    if not member.has_perm("notifications.add_broadcast"):
        raise ApplicationError(f"{phone} may not send messages (needs 'Can add broadcast').")
    return member
