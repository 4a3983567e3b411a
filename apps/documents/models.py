"""A file made in the background: a report, an export or an import's error report."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Format(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"
    PDF = "pdf", "PDF"


CONTENT_TYPES = {
    Format.CSV: "text/csv; charset=utf-8",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.PDF: "application/pdf",
}


class Document(models.Model):
    """One file, made on the documents queue: ``done`` of ``total`` rows so far, ``cursor``
    where the next chunk starts. ``key`` makes identical requests one document while it is
    being made (a partial unique constraint): a second request gets the first."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        READY = "ready"
        FAILED = "failed"

    ACTIVE = (State.QUEUED, State.RUNNING)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=40, help_text="What it holds, e.g. payments.")
    title = models.CharField(max_length=200)
    format = models.CharField(max_length=4, choices=Format.choices)
    params = models.JSONField(default=dict, blank=True, help_text="The request: range, filters.")
    key = models.CharField(max_length=64, help_text="The request's fingerprint.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    total = models.PositiveBigIntegerField(default=0, help_text="Rows expected.")
    done = models.PositiveBigIntegerField(default=0, help_text="Rows written.")
    cursor = models.JSONField(default=dict, blank=True, help_text="Where the next chunk starts.")
    file = models.FileField(upload_to="documents/%Y/%m/", max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="documents",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True, help_text="Its last progress.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=Q(state__in=["queued", "running"]),
                name="document_one_at_a_time",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def percent(self) -> float:
        if self.state == self.State.READY:
            return 100.0
        return 0.0 if not self.total else round(100 * min(self.done, self.total) / self.total, 1)

    @property
    def filename(self) -> str:
        stamp = timezone.localtime(self.created_at).strftime("%Y%m%d-%H%M")
        return f"{self.source}-{stamp}.{self.format}"
