"""Staff hear that a report or export is ready: the one who asked for it, or, for one nobody
asked for (the scheduled reports), ADMINS and every staff member with an address."""

from django.conf import settings

from apps.accounts.models import Member
from apps.notifications.services.writing import notify, notify_staff
from apps.ops.selectors import admin_event_payload


def document_ready_tell(*, event_id: int, payload: dict | None = None) -> int:
    """Listener of document_ready: the mails written (once per event: their key)."""
    payload = admin_event_payload(event_id=event_id, payload=payload)
    if payload is None:
        return 0
    context = {**payload, "hours": settings.DOCUMENT_LINK_HOURS}
    key = f"document:{payload['document_id']}"
    asker = (
        Member.objects.filter(pk=payload.get("requested_by_id"), is_active=True)
        .exclude(email="")
        .first()
    )
    if asker is None:
        return len(notify_staff(kind="document_ready", context=context, key=key))
    return len(notify(member=asker, kind="document_ready", context=context, key=key))
