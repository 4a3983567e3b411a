"""A notice to every active member, or to a segment of them, written in chunks by a task, with
its progress; its sends are an ops batch."""

import logging
import time
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Member
from apps.notifications.kinds import kind_get, render
from apps.notifications.models import Broadcast
from apps.notifications.segments import segment_members
from apps.notifications.services.writing import notify_members
from apps.notifications.texts import fill_context
from apps.ops.batches import batch_cancelled, batch_dispatch
from apps.ops.selectors import admin_event_payload

log = logging.getLogger("conveyor.notifications")


def broadcast_check(*, kind: str, context: dict, channels: Sequence[str] = ()) -> None:
    """Raise TemplateMissing now, in the caller, if ``kind`` cannot be rendered with ``context``
    for a member (by ``channels``, else by each of the kind's): not later, in the fan-out."""
    for channel in channels or kind_get(kind).channels:
        render(kind, channel, {"name": "", **context})


def broadcast_for_event(*, event_id: int, payload: dict | None = None) -> int:
    """Listener of commission_rate_changed: its broadcast, once per event; the members to tell."""
    payload = admin_event_payload(event_id=event_id, payload=payload)
    if payload is None:
        return 0
    with transaction.atomic():
        broadcast = broadcast_start(
            kind=payload["kind"],
            context=payload["context"],
            title=payload["title"],
            key=f"event:{event_id}",
        )
    return broadcast.total


def broadcast_start(
    *,
    kind: str,
    context: dict,
    title: str,
    key: str | None = None,
    segment: dict | None = None,
    channels: Sequence[str] = (),
    sent_by: Member | None = None,
) -> Broadcast:
    """Tell every active member of ``kind`` (those ``segment`` matches, if given; by
    ``channels``, if given, else as each chose): a Broadcast row, written in chunks by
    tasks.notifications.advance_broadcast after commit. With ``key``, once: a second call
    returns the first broadcast."""
    broadcast_check(kind=kind, context=context, channels=channels)
    if key and (existing := Broadcast.objects.filter(key=key).first()):
        return existing
    broadcast = Broadcast.objects.create(
        kind=kind,
        context=context,
        title=title[:200],
        total=segment_members(segment=segment).count(),
        key=key,
        segment=segment,
        channels=list(channels),
        sent_by=sent_by,
    )
    # Its sends are an ops batch, with progress on the operations page. The writer is the
    # batch's first job and adds each chunk's deliveries, so the batch cannot finish before
    # the last chunk is written; one failed delivery does not stop the others.
    batch = batch_dispatch(
        name=f"Broadcast {broadcast.pk}: {broadcast.title}"[:255],
        jobs=[advance_job(broadcast.pk)],
        allow_failures=True,
    )
    broadcast.batch_id = batch.pk
    broadcast.save(update_fields=["batch_id"])
    log.info(
        "broadcast.started id=%s kind=%s members=%s batch=%s by=%s",
        broadcast.pk,
        kind,
        broadcast.total,
        batch.pk,
        sent_by.phone if sent_by else "-",
    )
    return broadcast


def advance_job(broadcast_id: int):
    """The broadcast's writer as its batch's job (job id ``broadcast-<id>``)."""
    from tasks import notifications

    sig = notifications.advance_broadcast.si(broadcast_id=str(broadcast_id))
    return sig.set(task_id=f"broadcast-{broadcast_id}")


def broadcast_advance(*, broadcast_id: int, budget_seconds: float) -> tuple[dict | None, int]:
    """Write chunks of NOTIFY_CHUNK members' notices until done or out of budget: (the next
    run's arguments or None, notices written). Each chunk and the cursor commit together."""
    deadline, written = time.monotonic() + budget_seconds, 0
    while True:
        with transaction.atomic():
            broadcast = Broadcast.objects.select_for_update().filter(pk=broadcast_id).first()
            if broadcast is None or broadcast.state == Broadcast.State.FINISHED:
                return None, written
            if broadcast.batch_id and batch_cancelled({"id": broadcast.batch_id}):
                _finish(broadcast, "cancelled")  # staff stopped its sends
                return None, written
            members = list(
                segment_members(segment=broadcast.segment)
                .filter(pk__gt=broadcast.cursor)
                .order_by("pk")[: settings.NOTIFY_CHUNK]
            )
            if not members:
                _finish(broadcast, "finished")
                return None, written
            written += notify_members(
                members=members,
                kind=broadcast.kind,
                context_of=lambda m, b=broadcast: _context(b, m),
                key_of=lambda m, b=broadcast: f"broadcast:{b.pk}:{m.pk}",
                batch_id=broadcast.batch_id,
                channels=broadcast.channels or None,
            )
            broadcast.cursor, broadcast.done = members[-1].pk, broadcast.done + len(members)
            broadcast.save(update_fields=["cursor", "done", "updated_at"])
        if time.monotonic() > deadline:
            return {"broadcast_id": str(broadcast_id)}, written


def _context(broadcast: Broadcast, member: Member) -> dict:
    """A member's context: the broadcast's, with ``{name}`` filled in its texts (a staff
    message's), and ``name`` for the kinds' templates."""
    name = member.name or member.phone
    return {**fill_context(broadcast.context, name), "name": name}


def _finish(broadcast: Broadcast, how: str) -> None:
    broadcast.state, broadcast.finished_at = Broadcast.State.FINISHED, timezone.now()
    broadcast.save(update_fields=["state", "finished_at"])
    log.info("broadcast.%s id=%s done=%s", how, broadcast.pk, broadcast.done)
