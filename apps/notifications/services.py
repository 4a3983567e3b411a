"""Notifications: write them (notify), deliver them exactly once at most, take reports.

notify() writes one Notification per channel in the caller's transaction, rendered from the
kind's templates, and queues delivery on commit. A delivery run claims its row (PENDING →
SENDING) before it calls the provider and records what the provider said; a run that finds
its row already claimed does not send again (README, "Never sent twice")."""

import contextlib
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.accounts.models import Member
from apps.common import redis_client
from apps.common.db import savepoint_if_nested
from apps.common.errors import ApplicationError, TransientError
from apps.common.queue import enqueue_on_commit
from apps.notifications import mail, sms
from apps.notifications.kinds import Rendered, kind_get, render
from apps.notifications.models import Broadcast, Channel, Notification, Preference, Status
from apps.notifications.outcomes import Accepted, Ambiguous, NotSent
from apps.notifications.selectors import claimable

log = logging.getLogger("conveyor.notifications")

# Delivery reports (Africa's Talking's status) → our status; the rest are on the way.
REPORT_FINAL = {"Success": Status.DELIVERED, "Rejected": Status.FAILED, "Failed": Status.FAILED}
REPORT_ON_THE_WAY = {"Sent", "Submitted", "Buffered"}
# A report for an id we never recorded may be for a row whose run died after the gateway took
# it: adopted when exactly one such row to that number was claimed this recently.
ADOPT_WITHIN = timedelta(hours=6)


class DeliveryFailed(ApplicationError):
    """Nothing was sent and nothing will be, as things stand (bad API key, no address)."""


# --- writing ---------------------------------------------------------------------------


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
    _enqueue(written)
    return written


def notify_members(
    *,
    members: Iterable[Member],
    kind: str,
    context_of,
    key_of,
) -> int:
    """notify() for many members at once: rows bulk-written, a key per member (required, so a
    rerun of a chunk adds nothing). ``context_of(member)`` and ``key_of(member)`` give each
    member's. Returns the rows written or found already written."""
    members = list(members)
    preferences = {
        p.member_id: p for p in Preference.objects.filter(member_id__in=[m.pk for m in members])
    }
    rows = []
    for member in members:
        context, key = context_of(member), key_of(member)
        for channel in _channels(kind, member, preferences.get(member.pk), None):
            rows.append(_row(member, kind, channel, render(kind, channel, context), key))
    Notification.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    keys = {row.key for row in rows}
    queued = Notification.objects.filter(
        key__in=keys, channel__in=(Channel.SMS, Channel.EMAIL), status=Status.PENDING
    ).values_list("pk", "channel")
    _enqueue_ids(list(queued))
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
    _enqueue(rows)
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


def _enqueue(rows: list[Notification]) -> None:
    _enqueue_ids([(row.pk, row.channel) for row in rows if row.status == Status.PENDING])


def _enqueue_ids(rows: list[tuple[int, str]]) -> None:
    from tasks import emails, notifications

    for pk, channel in rows:
        task = notifications.deliver_sms if channel == Channel.SMS else emails.deliver_email
        enqueue_on_commit(task, notification_id=pk)


# --- delivering ------------------------------------------------------------------------


def sms_pace():
    """The SMS bucket every worker shares: per provider and sender id, at SMS_RATE."""
    from apps.common.bucket import Pace

    provider = sms.backend_class().provider
    key = f"sms:{provider}:{settings.SMS_SENDER_ID or '-'}"
    return key, Pace.parse(settings.SMS_RATE, burst=settings.SMS_BURST)


def email_pace():
    from apps.common.bucket import Pace

    return f"email:{settings.EMAIL_BACKEND}", Pace.parse(
        settings.EMAIL_RATE, burst=settings.EMAIL_BURST
    )


def notification_deliver(*, notification_id: int, run_id: str) -> str:
    """Send one SMS or mail at most once: claim it, call the provider, record the answer.
    Returns the row's status afterwards. NotSent → back to PENDING and TransientError (the
    task retries); Ambiguous → UNKNOWN, never sent again by a run. ``run_id``: the delivery
    task's id, the same for each of its attempts."""
    now = timezone.now()
    claimed = Notification.objects.filter(
        claimable(), pk=notification_id, channel__in=(Channel.SMS, Channel.EMAIL)
    ).update(
        status=Status.SENDING,
        attempts=F("attempts") + 1,
        claimed_at=now,
        claimed_by=run_id[:64],
        error="",
    )
    if not claimed:
        return _not_claimed(notification_id, run_id)
    row = Notification.objects.get(pk=notification_id)
    try:
        outcome = _send(row)
    except ImproperlyConfigured as exc:  # the backend cannot even be built: nothing left
        _unclaim(row, str(exc))
        raise DeliveryFailed(str(exc)) from exc
    except NotSent as exc:
        _unclaim(row, str(exc))
        if exc.permanent:
            raise DeliveryFailed(str(exc)) from exc
        raise TransientError(str(exc)) from exc
    except Ambiguous as exc:
        _settle(row, status=Status.UNKNOWN, error=str(exc))
        log.warning("notification.unknown id=%s error=%s", row.pk, exc)
        return Status.UNKNOWN
    except Exception as exc:
        # An error of ours mid-send: whether it left is not known, so it is not sent again.
        _settle(row, status=Status.UNKNOWN, error=f"{type(exc).__name__}: {exc}")
        raise
    if isinstance(outcome, Accepted):
        _settle(row, status=Status.SENT, provider_id=outcome.provider_id, cost=outcome.cost)
        return Status.SENT
    _settle(row, status=Status.FAILED, reason=outcome.reason, error=outcome.detail)
    log.info("notification.refused id=%s reason=%s", row.pk, outcome.reason)
    return Status.FAILED


def _not_claimed(notification_id: int, run_id: str) -> str:
    row = Notification.objects.filter(pk=notification_id).only("status").first()
    if row is None:
        return "missing"
    if row.status == Status.SENDING:
        # An earlier attempt of this same task claimed it and stopped (its worker was killed)
        # before recording the provider's answer: the provider may have it. Not sent again; a
        # delivery report can still settle it. Another task's claim may be a live run: left to
        # it, and to the reconciler if it never finishes.
        settled = Notification.objects.filter(
            pk=notification_id, status=Status.SENDING, claimed_by=run_id[:64]
        ).update(
            status=Status.UNKNOWN,
            error="a delivery run stopped after claiming it; it may have been sent",
        )
        if not settled:
            return Status.SENDING
        log.warning("notification.unknown id=%s claimed by a run that stopped", notification_id)
        return Status.UNKNOWN
    return row.status


def _send(row: Notification):
    if not row.address:
        raise NotSent("no address to send to", permanent=True)
    if row.channel == Channel.SMS:
        return sms.backend().send(to=row.address, message=row.body, sender=settings.SMS_SENDER_ID)
    return mail.send(
        to=row.address, subject=row.subject, body=row.body, html=row.html, key=f"n{row.pk}"
    )


def _unclaim(row: Notification, error: str) -> None:
    """Back to PENDING for the retry, unless a delivery report said meanwhile it went out."""
    Notification.objects.filter(pk=row.pk, status=Status.SENDING, provider_id="").update(
        status=Status.PENDING, error=error[:2000]
    )


def _settle(row: Notification, *, status: str, **fields: str) -> None:
    """Record a run's outcome, unless a delivery report settled the row meanwhile. The
    provider's answer also settles a row the reconciler gave up on as UNKNOWN."""
    values = {name: value[:2000] for name, value in fields.items()}
    if status == Status.SENT:
        values["sent_at"] = timezone.now()
    open_states = (
        (Status.SENDING,) if status == Status.UNKNOWN else (Status.SENDING, Status.UNKNOWN)
    )
    Notification.objects.filter(pk=row.pk, status__in=open_states).update(status=status, **values)


def notification_delivery_failed(*, notification_id: int, error: str) -> bool:
    """The delivery task failed for good: a row that was not sent is FAILED with the error."""
    return bool(
        Notification.objects.filter(pk=notification_id, status=Status.PENDING).update(
            status=Status.FAILED, error=error[:2000]
        )
    )


# --- delivery reports --------------------------------------------------------------------


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
    log.warning("notification.report_adopted id=%s provider_id=%s", orphans[0].pk, provider_id)
    return orphans[0] if adopted else None


# --- broadcasts ------------------------------------------------------------------------


def broadcast_start(*, kind: str, context: dict, title: str) -> Broadcast:
    """Tell every active member of ``kind``: a Broadcast row, written in chunks by
    tasks.notifications.advance_broadcast after commit. A template that lacks a variable fails
    here, in the caller, not in the fan-out."""
    for channel in kind_get(kind).channels:
        render(kind, channel, {"name": "", **context})
    broadcast = Broadcast.objects.create(
        kind=kind,
        context=context,
        title=title[:200],
        total=Member.objects.filter(is_active=True).count(),
    )
    from tasks import notifications

    enqueue_on_commit(notifications.advance_broadcast, broadcast_id=broadcast.pk)
    log.info("broadcast.started id=%s kind=%s members=%s", broadcast.pk, kind, broadcast.total)
    return broadcast


def broadcast_advance(*, broadcast_id: int, budget_seconds: float) -> tuple[dict | None, int]:
    """Write chunks of NOTIFY_CHUNK members' notices until done or out of budget: (the next
    run's arguments or None, notices written). Each chunk and the cursor commit together."""
    deadline, written = time.monotonic() + budget_seconds, 0
    while True:
        with transaction.atomic():
            broadcast = Broadcast.objects.select_for_update().filter(pk=broadcast_id).first()
            if broadcast is None or broadcast.state == Broadcast.State.FINISHED:
                return None, written
            members = list(
                Member.objects.filter(is_active=True, pk__gt=broadcast.cursor).order_by("pk")[
                    : settings.NOTIFY_CHUNK
                ]
            )
            if not members:
                broadcast.state, broadcast.finished_at = Broadcast.State.FINISHED, timezone.now()
                broadcast.save(update_fields=["state", "finished_at"])
                log.info("broadcast.finished id=%s done=%s", broadcast.pk, broadcast.done)
                return None, written
            written += notify_members(
                members=members,
                kind=broadcast.kind,
                context_of=lambda m, b=broadcast: {**b.context, "name": m.name or m.phone},
                key_of=lambda m, b=broadcast: f"broadcast:{b.pk}:{m.pk}",
            )
            broadcast.cursor, broadcast.done = members[-1].pk, broadcast.done + len(members)
            broadcast.save(update_fields=["cursor", "done", "updated_at"])
        if time.monotonic() > deadline:
            return {"broadcast_id": str(broadcast_id)}, written


# --- the reconciler -----------------------------------------------------------------------


def notifications_reconcile() -> dict[str, int]:
    """The minute sweep (the database is the truth, a message only a nudge): send again the
    delivery of rows PENDING past NOTIFY_NUDGE_AFTER (their message was lost: Redis flushed, a
    worker gone with it); settle rows SENDING that long as UNKNOWN (their run died and so did
    its redelivery: they may have been sent); resume broadcasts that stopped advancing."""
    now = timezone.now()
    before = now - timedelta(seconds=settings.NOTIFY_NUDGE_AFTER)
    limit = settings.NOTIFY_CHUNK
    # Quiet since: its last nudge, else its last claim (a retry unclaims it), else its writing.
    quiet = Notification.objects.alias(
        quiet_since=Coalesce("nudged_at", "claimed_at", "created_at")
    ).filter(status=Status.PENDING, created_at__lt=before, quiet_since__lt=before)
    lost = list(quiet.values_list("pk", "channel")[:limit])
    # Claimed by stamping nudged_at: overlapping sweeps send each once.
    nudged = [(pk, ch) for pk, ch in lost if quiet.filter(pk=pk).update(nudged_at=now)]
    _enqueue_ids(nudged)
    unknown = Notification.objects.filter(status=Status.SENDING, claimed_at__lt=before).update(
        status=Status.UNKNOWN,
        error="its delivery run stopped after claiming it; it may have been sent",
    )
    stalled = list(
        Broadcast.objects.filter(state=Broadcast.State.RUNNING, updated_at__lt=before).values_list(
            "pk", flat=True
        )
    )
    from tasks import notifications

    for broadcast_id in stalled:
        Broadcast.objects.filter(pk=broadcast_id).update(updated_at=now)
        enqueue_on_commit(notifications.advance_broadcast, broadcast_id=broadcast_id)
    if nudged or unknown or stalled:
        log.warning(
            "notifications.reconciled nudged=%s unknown=%s broadcasts=%s",
            len(nudged),
            unknown,
            len(stalled),
        )
    return {"nudged": len(nudged), "unknown": unknown, "broadcasts": len(stalled)}


# --- members and staff -------------------------------------------------------------------


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


def notification_resend(*, notification_id: int) -> Notification:
    """A failed (or unknown) SMS or mail written again as a new row and queued: the old row
    stays as it was, so nothing is sent twice silently."""
    with transaction.atomic():
        old = Notification.objects.select_for_update().get(pk=notification_id)
        if old.channel == Channel.IN_APP or old.status not in (Status.FAILED, Status.UNKNOWN):
            raise ApplicationError(
                f"Only failed or unknown SMS and mail can be resent; this one is {old.status}."
            )
        if old.resends.exclude(status=Status.FAILED).exists():
            raise ApplicationError("It was resent already; resend that one if it fails.")
        new = Notification.objects.create(
            member=old.member,
            kind=old.kind,
            channel=old.channel,
            address=old.address,
            subject=old.subject,
            body=old.body,
            html=old.html,
            resend_of=old,
        )
        _enqueue([new])
    log.info("notification.resent id=%s as=%s", old.pk, new.pk)
    return new


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
