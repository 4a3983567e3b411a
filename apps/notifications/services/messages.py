"""A message staff write to a segment of members (admin, Send a message): a broadcast of the
staff_message kind by the channels they chose, once per confirmation.

Decisions: SMS, email or both; members' preferences are not asked (staff chose the channel
and the members). A member without an address gets no mail: a send by mail alone adds
``has_email`` to its segment, so its progress counts only the members it reaches; a send by
both texts everyone and mails those with an address. The subject and text are the broadcast's
context, printed by the kind's templates (texts.py has the rules they are checked by)."""

import logging
import uuid

from django.db import IntegrityError, transaction

from apps.accounts.models import Member
from apps.common.errors import ApplicationError
from apps.notifications.models import Broadcast, Channel
from apps.notifications.segments import member_last_id, segment_describe, segment_members
from apps.notifications.services.broadcasts import broadcast_start
from apps.notifications.texts import message_errors

log = logging.getLogger("conveyor.notifications")

STAFF_MESSAGE = "staff_message"


def staff_message_send(
    *,
    channels: list[str],
    subject: str,
    body: str,
    segment: dict,
    token: uuid.UUID,
    sent_by: Member,
) -> tuple[Broadcast, bool]:
    """Send ``body`` (with ``subject``, by mail) to the members ``segment`` matches, by each
    of ``channels``: (its broadcast, whether this call started it). ``token`` comes with the
    confirm form: the same form posted twice (a double click, a reload) is one broadcast.
    ApplicationError for a message that may not go, or a segment that reaches nobody."""
    if errors := message_errors(channels=channels, subject=subject, body=body):
        raise ApplicationError(" ".join(errors.values()))
    if existing := staff_message_sent(token=token):
        return existing, False
    channels = [c for c in (Channel.SMS, Channel.EMAIL) if c in channels]
    segment = {**segment, "upto": member_last_id()}
    if channels == [Channel.EMAIL]:
        segment["has_email"] = True
    if not segment_members(segment=segment).exists():
        raise ApplicationError(f"No member to send to: nobody is {segment_describe(segment)}.")
    context = {"body": body, "subject": subject if Channel.EMAIL in channels else ""}
    try:
        with transaction.atomic():
            broadcast = broadcast_start(
                kind=STAFF_MESSAGE,
                context=context,
                title=f"Message: {subject or body.splitlines()[0]}"[:80],
                key=_key(token),
                segment=segment,
                channels=channels,
                sent_by=sent_by,
            )
    except IntegrityError:  # the same form, posted at the same instant, started it
        return Broadcast.objects.get(key=_key(token)), False
    log.info(
        "broadcast.message id=%s by=%s channels=%s members=%s segment=%r subject=%r body=%r",
        broadcast.pk,
        sent_by.phone,
        ",".join(channels),
        broadcast.total,
        segment,
        subject,
        body[:160],
    )
    return broadcast, True


def staff_message_sent(*, token: uuid.UUID) -> Broadcast | None:
    """The broadcast a confirm form started already, if it did."""
    return Broadcast.objects.filter(key=_key(token)).first()


def _key(token: uuid.UUID) -> str:
    return f"message:{token}"
