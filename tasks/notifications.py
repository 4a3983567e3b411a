"""The notifications queue: SMS and in-app notices. Pool and policy: config/queues.py (5
attempts, backoff 10, 30, 60, 120, 300 s). SMS are paced by a bucket all workers share: a
task that finds it empty is released for later, which spends no attempt."""

from config.celery import app


def _delivery_failed(task, exc, args, kwargs) -> None:
    from apps.notifications.services import notification_delivery_failed

    notification_delivery_failed(
        notification_id=int(kwargs["notification_id"]), error=f"{type(exc).__name__}: {exc}"
    )


@app.task(bind=True, final_failure=_delivery_failed)
def deliver_sms(self, notification_id: str, again: str = "") -> str:
    """After a notice's row commits: send the SMS. Safe to rerun: the row is claimed before the
    gateway is called, and a run that finds it claimed does not send again."""
    from apps.notifications.selectors import notification_waiting
    from apps.notifications.services import notification_deliver, sms_pace

    rerun = again or self.request.retries  # a copy that may find its row delivered already
    if rerun and not notification_waiting(
        notification_id=int(notification_id), run_id=self.request.id
    ):
        return "settled"  # a second copy (a nudge, a resend of the message): no token spent
    self.pace(*sms_pace())
    return notification_deliver(notification_id=int(notification_id), run_id=self.request.id)


@app.task(unique_for=300)
def reconcile_notifications() -> dict:
    """Beat, every minute: send again deliveries whose message was lost, settle runs that
    died, resume stalled broadcasts. Safe to rerun: each row is claimed by a conditional update,
    and a delivery sent twice is sent once (the row's claim)."""
    from apps.notifications.services import notifications_reconcile

    return notifications_reconcile()


@app.task(bind=True)
def advance_broadcast(self, broadcast_id: str) -> int:
    """After staff start a broadcast (a commission rate changed, a message to a segment): write
    the next chunks of its notices; past its time budget it continues in a new task. Safe to
    rerun: each member's notice has a key, and the cursor moves in the same transaction as the
    chunk."""
    from apps.notifications.services import broadcast_advance

    remaining, written = broadcast_advance(
        broadcast_id=int(broadcast_id), budget_seconds=self.budget()
    )
    self.continue_with(remaining)
    return written


@app.task
def announce_rate_change(event_id: str, payload: dict | None = None) -> int:
    """Listener of commission_rate_changed: a broadcast to every active member. Safe to rerun:
    one broadcast per event (its key)."""
    from apps.notifications.services import broadcast_for_event

    return broadcast_for_event(event_id=int(event_id), payload=payload)


@app.task
def tell_document_ready(event_id: str, payload: dict | None = None) -> int:
    """Listener of document_ready: mail its link to whoever asked. Safe to rerun: one mail per
    document and address (its key)."""
    from apps.notifications.services import document_ready_tell

    return document_ready_tell(event_id=int(event_id), payload=payload)
