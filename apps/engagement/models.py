"""Engagement activities members complete for a reward, assigned to each member every day."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models

from apps.wallets.models import MONEY


class Activity(models.Model):
    """Work a member can do once a day for ``reward``: a video, a survey, ..."""

    class Kind(models.TextChoices):
        VIDEO = "video"
        SURVEY = "survey"
        REVIEW = "review"
        SYNC = "sync"

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    reward = models.DecimalField(
        **MONEY, validators=[MinValueValidator(Decimal("0.01"))], help_text="KES."
    )
    is_active = models.BooleanField(default=True, help_text="Assigned from the next day on.")

    class Meta:
        ordering = ["kind", "title"]
        verbose_name_plural = "activities"

    def __str__(self) -> str:
        return f"{self.title} ({self.kind}, KES {self.reward})"


class Assignment(models.Model):
    """An activity given to a member for one day: ASSIGNED, then COMPLETED at most once."""

    class Status(models.TextChoices):
        ASSIGNED = "assigned"
        COMPLETED = "completed"

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments"
    )
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="assignments")
    day = models.DateField(help_text="In the project's time zone.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ASSIGNED)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-day", "activity"]
        constraints = [
            models.UniqueConstraint(fields=["member", "activity", "day"], name="assignment_once"),
        ]

    def __str__(self) -> str:
        return f"{self.activity} for {self.member_id} on {self.day}"
