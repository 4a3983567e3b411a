"""Writing notices: one row per channel in the caller's transaction, delivered after commit;
members' reads and choices; staff alerts."""

import contextlib
import logging
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from apps.accounts.models import Member
from apps.common import redis_client
from apps.common.db import savepoint_if_nested
from apps.common.errors import ApplicationError
from apps.common.queue import enqueue_on_commit
from apps.notifications.kinds import Rendered, kind_get, render
from apps.notifications.models import Channel, Notification, Preference, Status
from apps.ops.batches import batch_add

log = logging.getLogger("conveyor.notifications")


def notify(
    *,
    member: Member,
    kind: str,
    context: dict,
    channels: Sequence[str] | None = None,
    key: str | None = None,
) -> list[Notification]:
    """Notify ``member`` of ``kind``: one row per channel (those given, else the kind's, as the
    member chose them), rendered now, delivered after commit. With ``key``, a second call for
    the same key writes nothing (and returns nothing) for the channels already written."""
    preference = Preference.objects.filter(member=member).first()
    # Every channel rendered before any is written: a template that fails writes nothing.
    rows = [
        _row(member, kind, channel, render(kind, channel, context), key)
        for channel in _channels(kind, member, preference, channels)
    ]
    written = []
    for row in rows:
        try:
            with savepoint_if_nested():
                row.save()
        except IntegrityError:
            if key is None:
                raise
            continue  # written before, by an earlier run of the caller
        written.append(row)
    enqueue_deliveries(written)
    return written


def notify_members(
    *,
    members: Iterable[Member],
    kind: str,
    context_of,
    key_of,
    batch_id=None,
    channels: Sequence[str] | None = None,
) -> int:
    """notify() for many members at once: rows bulk-written, a key per member (required, so a
    rerun of a chunk adds nothing). ``context_of(member)`` and ``key_of(member)`` give each
    member's. With ``batch_id`` the deliveries are jobs added to that running ops batch, in
    the caller's transaction; ``channels`` as in notify(). Returns the rows written or found
    already written."""
    members = list(members)
    preferences = {
        p.member_id: p for p in Preference.objects.filter(member_id__in=[m.pk for m in members])
    }
    rows = []
    for member in members:
        context, key = context_of(member), key_of(member)
        for channel in _channels(kind, member, preferences.get(member.pk), channels):
            row = _row(member, kind, channel, render(kind, channel, context), key)
            row.batch_id = batch_id
            rows.append(row)
    Notification.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    keys = {row.key for row in rows}
    queued = Notification.objects.filter(
        key__in=keys, channel__in=(Channel.SMS, Channel.EMAIL), status=Status.PENDING
    ).values_list("pk", "channel")
    if batch_id is None:
        enqueue_deliveries_of(list(queued), again=True)
    elif queued:
        batch_add(batch_id=batch_id, jobs=[delivery_job(pk, channel) for pk, channel in queued])
    return len(rows)


def notify_staff(*, kind: str, context: dict, key: str | None = None) -> list[Notification]:
    """Mail ``kind`` to ADMINS and to every active staff member with an email address."""
    addresses = {email.lower(): None for _, email in settings.ADMINS}
    for member in Member.objects.filter(is_staff=True, is_active=True).exclude(email=""):
        addresses[member.email.lower()] = member
    rendered = render(kind, Channel.EMAIL, context)
    rows = []
    for address, member in addresses.items():
        row = _row(member, kind, Channel.EMAIL, rendered, key and f"{key}:{address}")
        row.address = address
        try:
            with savepoint_if_nested():
                row.save()
        except IntegrityError:
            continue
        rows.append(row)
    enqueue_deliveries(rows)
    return rows


def _channels(kind: str, member: Member, preference, channels) -> list[str]:
    spec = kind_get(kind)
    wanted = list(channels) if channels is not None else list(spec.channels)
    if channels is None and spec.chosen:
        chosen = {Channel.IN_APP}
        if preference is not None:
            chosen |= {Channel.SMS} if preference.sms else set()
            chosen |= {Channel.EMAIL} if preference.email else set()
        wanted = [c for c in wanted if c in chosen]
    unknown = [c for c in wanted if c not in spec.channels]
    if unknown:
        raise ApplicationError(f"{kind} notices cannot go by {', '.join(unknown)}")
    return [c for c in wanted if c != Channel.EMAIL or member.email]


def _row(member, kind: str, channel: str, text: Rendered, key: str | None) -> Notification:
    in_app = channel == Channel.IN_APP
    now = timezone.now()
    return Notification(
        member=member,
        kind=kind,
        channel=channel,
        address=_address(member, channel),
        subject=text.subject[:200],
        body=text.body,
        html=text.html,
        key=key,
        status=Status.DELIVERED if in_app else Status.PENDING,
        created_at=now,
        delivered_at=now if in_app else None,
    )


def _address(member, channel: str) -> str:
    if member is None or channel == Channel.IN_APP:
        return ""
    return f"+{member.phone}" if channel == Channel.SMS else member.email


def enqueue_deliveries(rows: list[Notification]) -> None:
    enqueue_deliveries_of([(row.pk, row.channel) for row in rows if row.status == Status.PENDING])


def enqueue_deliveries_of(rows: list[tuple[int, str]], *, again: bool = False) -> None:
    """Queue each row's delivery after commit. ``again``: the row may have a delivery already
    (a nudge, a chunk written twice), so the task checks it before it spends a pacing token."""
    flag = {"again": "1"} if again else {}
    for pk, channel in rows:
        enqueue_on_commit(_delivery_task(channel), notification_id=pk, **flag)


def delivery_job(pk: int, channel: str):
    """A row's delivery as a batch job (the signature the batch sends; job id
    ``notification-<pk>``). It may find its row delivered already, hence ``again``."""
    sig = _delivery_task(channel).si(notification_id=str(pk), again="1")
    return sig.set(task_id=f"notification-{pk}")


def _delivery_task(channel: str):
    from tasks import emails, notifications

    return notifications.deliver_sms if channel == Channel.SMS else emails.deliver_email


def notification_mark_read(*, notification_id: int, member_id: int) -> Notification | None:
    """Mark a member's in-app notice read (once; reading again keeps the first time)."""
    rows = Notification.objects.filter(
        pk=notification_id, member_id=member_id, channel=Channel.IN_APP
    )
    rows.filter(read_at__isnull=True).update(read_at=timezone.now())
    return rows.first()


def preference_set(*, member_id: int, sms: bool, email: bool) -> Preference:
    preference, _ = Preference.objects.update_or_create(
        member_id=member_id, defaults={"sms": sms, "email": email}
    )
    return preference


def task_failure_alert(
    *, task: str, queue: str, error: str, attempts: int, reason: str, failed_task_id: int
) -> bool:
    """Mail staff that ``task`` failed for good, at most once per task name per
    FAILURE_ALERT_COOLDOWN; True if this call mailed. While Redis is down, mail anyway."""
    cooldown = settings.FAILURE_ALERT_COOLDOWN
    key = f"alert:task_failed:{task}"
    try:
        first = redis_client.client().set(key, "1", nx=True, ex=cooldown)
    except redis_client.REDIS_ERRORS:
        first = True
    if not first:
        return False
    try:
        _alert(task, queue, error, attempts, reason, failed_task_id, cooldown)
    except Exception:
        with contextlib.suppress(*redis_client.REDIS_ERRORS):
            redis_client.client().delete(key)  # not written: the next failure may alert
        raise
    return True


def _alert(task, queue, error, attempts, reason, failed_task_id, cooldown) -> None:
    notify_staff(
        kind="task_failed",
        context={
            "task": task,
            "queue": queue,
            "error": error[:2000],
            "attempts": attempts,
            "reason": reason,
            "failed_task_id": failed_task_id,
            "ops_url": f"{settings.SITE_URL}/admin/ops/",
            "cooldown_minutes": max(1, cooldown // 60),
        },
        key=f"task_failed:{failed_task_id}",
    )
