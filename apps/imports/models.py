"""An import of members (Import) and its staging table (ImportRow): one row per row of the
file, with what was read, what was decided and why."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.wallets.models import MONEY


def new_token() -> str:
    return secrets.token_hex(8)


class Import(models.Model):
    """One file of members. ``phase`` is how far it has gone (stage → validate → apply →
    report → finished) and ``cursor`` where its next chunk starts, saved with each chunk, so a
    run that dies is followed by one that goes on from there."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"
        UNDONE = "undone"

    class Phase(models.TextChoices):
        STAGE = "stage"
        VALIDATE = "validate"
        APPLY = "apply"
        REPORT = "report"
        FINISHED = "finished"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    ACTIVE = (State.QUEUED, State.RUNNING)

    filename = models.CharField(max_length=255)
    file = models.FileField(max_length=300, help_text="The file as uploaded, in storage.")
    format = models.CharField(max_length=4, choices=Format.choices)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    columns = models.JSONField(default=dict, help_text="Our column -> its place in the file.")
    width = models.PositiveSmallIntegerField(default=0, help_text="Cells in the header.")
    delimiter = models.CharField(max_length=1, blank=True, help_text="CSV only.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.STAGE)
    cursor = models.JSONField(default=dict, blank=True, help_text="Where the next chunk starts.")
    token = models.CharField(
        max_length=16, default=new_token, help_text="Every run of it owns the imports lock so."
    )
    total = models.PositiveIntegerField(default=0, help_text="Rows; estimated until staged.")
    staged = models.PositiveIntegerField(default=0)
    validated = models.PositiveIntegerField(default=0)
    applied = models.PositiveIntegerField(default=0, help_text="Created or unchanged.")
    created = models.PositiveIntegerField(default=0, help_text="Members created.")
    unchanged = models.PositiveIntegerField(default=0, help_text="Members already here.")
    refused = models.PositiveIntegerField(default=0)
    openings = models.PositiveIntegerField(default=0, help_text="Opening balances recorded.")
    warnings = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, help_text="Why the file, or the run, failed.")
    report = models.FileField(max_length=300, blank=True, help_text="The refused rows (CSV).")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    pruned_at = models.DateTimeField(
        null=True, blank=True, help_text="When its file, report and rows were deleted."
    )
    updated_at = models.DateTimeField(auto_now=True, help_text="Its last progress.")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # The same file twice at once is one import: the second upload gets the first.
            models.UniqueConstraint(
                fields=["sha256"],
                condition=Q(state__in=["queued", "running"]),
                name="import_one_file_at_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.filename}"

    @property
    def percent(self) -> float:
        """Staging is the first third, validation the second, applying the last."""
        if self.phase in (self.Phase.REPORT, self.Phase.FINISHED):
            return 100.0
        if not self.total:
            return 0.0
        done = min(self.staged, self.total) + min(self.validated, self.total)
        if self.phase == self.Phase.APPLY:
            done += min(self.applied + self.refused, self.total)
        return round(100 * done / (3 * self.total), 1)


class ImportRow(models.Model):
    """A row of the file as staged: its values cleaned, then its outcome. ``number`` is the row
    as a spreadsheet shows it (the header is row 1). ``column``, ``value`` and ``reason`` say
    why it was refused; ``member_id`` is the member it made or found, ``opening`` whether this
    import recorded that member's opening balance."""

    class Status(models.TextChoices):
        STAGED = "staged"  # read and clean; once validated, a member to create
        UNCHANGED = "unchanged"  # a member already, with the same upline: none to create
        CREATED = "created"
        REFUSED = "refused"
        UNDONE = "undone"  # created, then removed by an undo

    import_run = models.ForeignKey(Import, on_delete=models.CASCADE, related_name="rows")
    number = models.PositiveIntegerField()
    phone = models.CharField(max_length=12, null=True, blank=True)  # noqa: DJ001 - none: unreadable
    name = models.CharField(max_length=150, blank=True)
    upline = models.CharField(max_length=12, null=True, blank=True)  # noqa: DJ001 - none: no upline
    pending = models.DecimalField(**MONEY, default=0)
    withdrawable = models.DecimalField(**MONEY, default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STAGED)
    column = models.CharField(max_length=20, blank=True, db_column="error_column")
    value = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    upline_row = models.PositiveIntegerField(null=True, blank=True)
    # Plain ids, not foreign keys: an undo deletes the members, the rows stay as the record.
    upline_member_id = models.BigIntegerField(null=True, blank=True)
    member_id = models.BigIntegerField(null=True, blank=True)
    depth = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Uplines above.")
    opening = models.BooleanField(default=False)

    class Meta:
        ordering = ["import_run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["import_run", "number"], name="import_row_once"),
        ]
        indexes = [
            models.Index(fields=["import_run", "phone"], name="import_row_phone"),
            models.Index(fields=["import_run", "upline"], name="import_row_upline"),
            models.Index(fields=["import_run", "depth", "number"], name="import_row_order"),
        ]

    def __str__(self) -> str:
        return f"row {self.number} of import {self.import_run_id}"
