"""Every domain event and its queued listeners, in one import-light table (no Django, no
Celery), as config/queues.py is for queues (Laravel's EventServiceProvider $listen).

A service emits an event inside its transaction (``apps.ops.services.event_emit``): the event
is stored (ops.AdminEvent: the staff feed and the operations page's live events) and, once the
transaction commits, each listener named here is sent as its own task, with ``event_id`` and
the event's ``payload`` (as Laravel hands a listener its event: the listener reads no row to
learn what happened), to the queue its module routes to. A listener fails and retries on its
own; it is sent once per event, with the task id ``event-<id>-<listener>``, and like every
task it is safe to rerun. A message without the payload (sent before listeners carried it)
reads it from the event row.
The event row is the listeners' outbox: one the broker did not take at commit is sent by the
minute reconciler ("ops: reconcile events").
"""

LISTENERS: dict[str, tuple[str, ...]] = {
    # apps/payments: every fulfilled payment gets its receipt PDF
    "payment_processed": ("tasks.documents.receipts.make_receipt_for_event",),
    "payment_failed": (),
    "payment_refunded": (),
    # apps/provisioning: the buyer hears from us either way
    "user_provisioned": ("tasks.provisioning.send_wifi_credentials",),
    "provisioning_failed": ("tasks.provisioning.send_provisioning_delayed",),
    # apps/commissions: every active member is told
    "commission_rate_changed": ("tasks.notifications.announce_rate_change",),
    # apps/documents: whoever asked for a report or export is mailed its link
    "document_ready": ("tasks.notifications.tell_document_ready",),
    # apps/ops
    "queue_busy": (),
}
