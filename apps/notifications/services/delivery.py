"""Delivering a notice at most once: claim the row, call the provider, record its answer;
resend as a new row; the minute reconciler (README, "Never sent twice")."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.common.errors import ApplicationError, TransientError
from apps.common.queue import enqueue_on_commit
from apps.notifications import mail, sms
from apps.notifications.models import Broadcast, Channel, Notification, Status
from apps.notifications.outcomes import Accepted, Ambiguous, NotSent
from apps.notifications.selectors import claimable
from apps.notifications.services.broadcasts import advance_job
from apps.notifications.services.writing import (
    delivery_job,
    enqueue_deliveries,
    enqueue_deliveries_of,
)
from apps.ops.batches import batch_ids_cancelled, batch_job_send_again

log = logging.getLogger("conveyor.notifications")


class DeliveryFailed(ApplicationError):
    """Nothing was sent and nothing will be, as things stand (bad API key, no address)."""


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
        enqueue_deliveries([new])
    log.info("notification.resent id=%s as=%s", old.pk, new.pk)
    return new


def notifications_reconcile() -> dict[str, int]:
    """The minute sweep (the database is the truth, a message only a nudge): send again the
    delivery of rows PENDING past NOTIFY_NUDGE_AFTER (their message was lost: Redis flushed, a
    worker gone with it), as the same batch job if they have one; settle rows SENDING that
    long as UNKNOWN (their run died and so did its redelivery: they may have been sent); resume
    broadcasts that stopped advancing. A cancelled batch's rows and broadcast are ended instead:
    staff stopped those sends."""
    now = timezone.now()
    before = now - timedelta(seconds=settings.NOTIFY_NUDGE_AFTER)
    limit = settings.NOTIFY_CHUNK
    cancelled = batch_ids_cancelled()
    # Quiet since: its last nudge, else its last claim (a retry unclaims it), else its writing.
    quiet = Notification.objects.alias(
        quiet_since=Coalesce("nudged_at", "claimed_at", "created_at")
    ).filter(status=Status.PENDING, created_at__lt=before, quiet_since__lt=before)
    dropped = quiet.filter(batch_id__in=cancelled).update(
        status=Status.FAILED, error="not sent: its batch was cancelled"
    )
    lost = list(quiet.values_list("pk", "channel", "batch_id")[:limit])
    # Claimed by stamping nudged_at: overlapping sweeps send each once.
    nudged = [row for row in lost if quiet.filter(pk=row[0]).update(nudged_at=now)]
    enqueue_deliveries_of([(pk, ch) for pk, ch, batch in nudged if batch is None], again=True)
    for pk, channel, batch in nudged:
        if batch is not None:
            _send_again(delivery_job(pk, channel), batch)
    unknown = Notification.objects.filter(status=Status.SENDING, claimed_at__lt=before).update(
        status=Status.UNKNOWN,
        error="its delivery run stopped after claiming it; it may have been sent",
    )
    running = Broadcast.objects.filter(state=Broadcast.State.RUNNING, updated_at__lt=before)
    stopped = running.filter(batch_id__in=cancelled).update(
        state=Broadcast.State.FINISHED, finished_at=now
    )
    stalled = list(running.values_list("pk", "batch_id"))
    from tasks import notifications

    for broadcast_id, batch in stalled:
        Broadcast.objects.filter(pk=broadcast_id).update(updated_at=now)
        if batch is None:  # started before broadcasts were batches
            enqueue_on_commit(notifications.advance_broadcast, broadcast_id=broadcast_id)
        else:
            _send_again(advance_job(broadcast_id), batch)
    if nudged or unknown or stalled or dropped or stopped:
        log.warning(
            "notifications.reconciled nudged=%s unknown=%s broadcasts=%s cancelled=%s",
            len(nudged),
            unknown,
            len(stalled),
            dropped + stopped,
        )
    return {
        "nudged": len(nudged),
        "unknown": unknown,
        "broadcasts": len(stalled),
        "cancelled": dropped + stopped,
    }


def _send_again(job, batch_id) -> None:
    batch_job_send_again(job, batch_id=batch_id, job_id=job.options["task_id"])
