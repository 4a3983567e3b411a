"""The emails queue: mail. Pool and policy: config/queues.py (3 attempts, backoff 30, 120,
600 s), paced by EMAIL_RATE as SMS are by SMS_RATE."""

from config.celery import app
from tasks.notifications import _delivery_failed


@app.task(bind=True, final_failure=_delivery_failed)
def deliver_email(self, notification_id: str, again: str = "") -> str:
    """After a notice's row commits: send the mail. Safe to rerun, as deliver_sms."""
    from apps.notifications.selectors import notification_waiting
    from apps.notifications.services import email_pace, notification_deliver

    rerun = again or self.request.retries  # a copy that may find its row delivered already
    if rerun and not notification_waiting(
        notification_id=int(notification_id), run_id=self.request.id
    ):
        return "settled"
    self.pace(*email_pace())
    return notification_deliver(notification_id=int(notification_id), run_id=self.request.id)
