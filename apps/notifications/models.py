"""Notifications: one row per message per channel, the truth of what was sent to whom.

A row is written in the caller's transaction with its text already rendered; delivery runs
on the notifications queue (SMS) or the emails queue (mail) after commit. In-app notices
need no delivery: the row is the notice. Bodies are encrypted at rest (credentials travel
in them)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.common.crypto import EncryptedTextField


class Channel(models.TextChoices):
    SMS = "sms", "SMS"
    EMAIL = "email", "Email"
    IN_APP = "in_app", "In-app"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"  # written; its delivery is queued
    SENDING = "sending", "Sending"  # claimed by a delivery run, which is calling the provider
    SENT = "sent", "Sent"  # the provider took it (provider_id says which message)
    UNKNOWN = "unknown", "Unknown"  # may have been sent: never sent again on its own
    DELIVERED = "delivered", "Delivered"  # on the handset, in the mailbox, or in the app
    FAILED = "failed", "Failed"  # refused by the provider, or failed for good


class Notification(models.Model):
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notifications",
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    address = models.CharField(max_length=254, blank=True, help_text="Phone or email; in-app: -")
    kind = models.CharField(max_length=50)
    subject = models.CharField(max_length=200, blank=True)
    body = EncryptedTextField()
    html = EncryptedTextField(blank=True, default="")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The provider's message id once it took the message; delivery reports name it.
    provider_id = models.CharField(max_length=100, blank=True, default="")
    cost = models.CharField(max_length=32, blank=True, default="")
    # The provider's reason for a refusal or a failed delivery (InvalidPhoneNumber, ...).
    reason = models.CharField(max_length=100, blank=True, default="")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    # One notice per key and channel: a rerun of the code that notifies writes nothing new.
    key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 (NULL: no key)
    # The ops batch its delivery is a job of (job id notification-<pk>), if any.
    batch_id = models.UUIDField(null=True, blank=True)
    resend_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resends"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The task id of the run that claimed it: a rerun of the same task (its worker died) knows
    # its own claim; another copy's claim it leaves alone.
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    # When the reconciler last sent its delivery again (its message was lost).
    nudged_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "channel"],
                condition=Q(key__isnull=False),
                name="notification_once_per_key_and_channel",
            )
        ]
        indexes = [
            models.Index(fields=["member", "channel", "-id"], name="notification_inbox"),
            # What the reconciler looks for, and nothing more (most rows are settled).
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="notification_open",
            ),
            models.Index(
                fields=["provider_id"],
                condition=~Q(provider_id=""),
                name="notification_provider_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.channel} to {self.address or self.member_id}"


class Preference(models.Model):
    """The channels a member chose beside in-app notices (which every member gets)."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    sms = models.BooleanField(default=False)
    email = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"preferences of {self.member_id}"


class Broadcast(models.Model):
    """One notice to every active member, or to a segment of them, written in chunks: its
    progress is ``done``/``total``. A staff message keeps its subject and text in ``context``
    (the staff_message kind's templates print them), and who sent it in ``sent_by``."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"

    kind = models.CharField(max_length=50)
    context = models.JSONField(default=dict)
    title = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    cursor = models.BigIntegerField(default=0, help_text="The last member id written.")
    key = models.CharField(
        max_length=100, unique=True, null=True, blank=True, help_text="e.g. event:<id>: once."
    )
    batch_id = models.UUIDField(null=True, blank=True, help_text="Its sends, as an ops batch.")
    # The members filter, re-run by the writer chunk by chunk (apps/notifications/segments.py).
    segment = models.JSONField(
        null=True, blank=True, help_text="Who: a filter of active members; empty: all of them."
    )
    channels = models.JSONField(
        default=list, blank=True, help_text="Chosen by staff; empty: the kind's, as members chose."
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The staff member who sent it, if one did.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def percent(self) -> float:
        return 100.0 if not self.total else round(100 * min(self.done, self.total) / self.total, 1)
