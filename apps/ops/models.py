from django.db import models
from django.utils import timezone


class FailedTask(models.Model):
    """A task that failed for good: Celery keeps no failed-job store on Redis, so this is it.

    One row per Celery task id, so a failure reported twice is recorded once.
    """

    class Reason(models.TextChoices):
        ERROR = "error", "permanent error"
        EXHAUSTED = "exhausted", "attempts exhausted"
        TIME_LIMIT = "time_limit", "hard time limit"
        WORKER_LOST = "worker_lost", "worker lost"

    task_id = models.CharField(max_length=64, unique=True)
    task_name = models.CharField(max_length=255, db_index=True)
    queue = models.CharField(max_length=64, db_index=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    exception_type = models.CharField(max_length=255)
    exception_message = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    attempts = models.PositiveIntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    hostname = models.CharField(
        max_length=255, blank=True, help_text="The worker that saw the end."
    )
    failed_at = models.DateTimeField(default=timezone.now, db_index=True)
    tags = models.CharField(
        max_length=500, blank=True, help_text="e.g. payment:<id> (apps/ops/tags.py)"
    )

    class Meta:
        ordering = ["-failed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}]"

    def error_summary(self) -> str:
        """``ValueError: boom``: the exception's class name and its message."""
        return f"{self.exception_type.rsplit('.', 1)[-1]}: {self.exception_message}"


class AdminEvent(models.Model):
    """Something staff should see: stored here and pushed live on the Redis channel
    ``admin-notifications`` (see apps.ops.services.admin_event_emit)."""

    class Type(models.TextChoices):
        PAYMENT_PROCESSED = "payment_processed", "PaymentProcessed"
        PAYMENT_FAILED = "payment_failed", "PaymentFailed"
        PAYMENT_REFUNDED = "payment_refunded", "PaymentRefunded"
        USER_PROVISIONED = "user_provisioned", "UserProvisioned"
        PROVISIONING_FAILED = "provisioning_failed", "ProvisioningFailed"
        QUEUE_BUSY = "queue_busy", "QueueBusy"

    type = models.CharField(max_length=32, choices=Type.choices, db_index=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    tags = models.CharField(
        max_length=500, blank=True, help_text="e.g. payment:<id> (apps/ops/tags.py)"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_type_display()} at {self.created_at:%Y-%m-%d %H:%M:%S}"

    def message(self) -> dict:
        """The event as broadcast: the seed's shape, type and timestamp included."""
        return {
            "id": self.pk,
            "type": self.type,
            **self.payload,
            "timestamp": self.created_at.isoformat(),
            "tags": self.tags.split(),
        }
