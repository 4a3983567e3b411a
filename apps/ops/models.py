import uuid

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
    workflow = models.JSONField(
        default=dict,
        blank=True,
        help_text="What a retry carries on: its batch, the rest of its chain, the chain's catch.",
    )

    class Meta:
        ordering = ["-failed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}]"

    def error_summary(self) -> str:
        """``ValueError: boom``: the exception's class name and its message."""
        return f"{self.exception_type.rsplit('.', 1)[-1]}: {self.exception_message}"


class AdminEvent(models.Model):
    """A domain event: stored here, pushed live to staff on the Redis channel
    ``admin-notifications`` and handed to its queued listeners (config/events.py), by
    apps.ops.services.event_emit."""

    class Type(models.TextChoices):
        PAYMENT_PROCESSED = "payment_processed", "PaymentProcessed"
        PAYMENT_FAILED = "payment_failed", "PaymentFailed"
        PAYMENT_REFUNDED = "payment_refunded", "PaymentRefunded"
        USER_PROVISIONED = "user_provisioned", "UserProvisioned"
        PROVISIONING_FAILED = "provisioning_failed", "ProvisioningFailed"
        QUEUE_BUSY = "queue_busy", "QueueBusy"
        COMMISSION_RATE_CHANGED = "commission_rate_changed", "CommissionRateChanged"
        DOCUMENT_READY = "document_ready", "DocumentReady"

    type = models.CharField(max_length=32, choices=Type.choices, db_index=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    tags = models.CharField(
        max_length=500, blank=True, help_text="e.g. payment:<id> (apps/ops/tags.py)"
    )
    # The outbox: listeners the broker has not taken yet. Cleared as they are sent; the
    # reconciler sends what a lost publish left here.
    unsent = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["created_at"], condition=~models.Q(unsent=[]), name="adminevent_unsent"
            )
        ]

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


class Batch(models.Model):
    """Jobs dispatched together, with callbacks when they end (Laravel's job_batches).

    ``pending`` counts jobs with no final outcome yet, ``failed`` those whose last outcome is a
    failure. ``fired`` names the callbacks already decided (each is decided once), ``unsent``
    those decided and not yet published (published on commit, else by the reconciler)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255, blank=True)
    total = models.PositiveIntegerField(default=0)
    pending = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    failed_job_ids = models.JSONField(default=list, blank=True)
    options = models.JSONField(default=dict, blank=True)
    fired = models.JSONField(default=list, blank=True)
    unsent = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return self.name or str(self.id)

    @property
    def processed(self) -> int:
        return self.total - self.pending

    @property
    def progress(self) -> int:
        """Processed jobs in % of all, rounded down (100 only when all are processed)."""
        return 100 if not self.total else self.processed * 100 // self.total


class BatchJob(models.Model):
    """One job of a batch; ``job_id`` is the task id it was first sent with, carried on by its
    retries, so each job's outcome is counted once however often it runs."""

    class State(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped", "skipped (batch cancelled)"

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="jobs")
    job_id = models.CharField(max_length=64)
    task_name = models.CharField(max_length=255)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "job_id"], name="batch_job_once")]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.job_id}]"


class DelayedJob(models.Model):
    """A job due later than a broker message may safely wait (kombu#337: Redis hands an ETA
    message unacknowledged past the visibility timeout to a second worker). Published shortly
    before it is due (apps/ops/delays.py); kept until it has started, so a Redis flush loses
    nothing: a job published and not started by its due time and a grace is published again."""

    task_name = models.CharField(max_length=255)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True, help_text="queue, headers")
    due_at = models.DateTimeField(db_index=True)
    task_id = models.CharField(max_length=64, help_text="The id of its latest publish.")
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["due_at"]

    def __str__(self) -> str:
        return f"{self.task_name} due {self.due_at:%Y-%m-%d %H:%M:%S}"
