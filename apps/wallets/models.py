"""A member's balances, and the append-only ledger of what they earned.

A wallet holds two running totals that the ledgers must explain, always (audit_ledger):
  pending      = sum of the member's PENDING earnings
  withdrawable = sum of MATURED earnings + sum of PROCESSED commissions to the member
Balances change only in the same transaction as the ledger rows that explain them.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

MONEY = {"max_digits": 14, "decimal_places": 2}


class Wallet(models.Model):
    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wallet"
    )
    pending = models.DecimalField(**MONEY, default=Decimal("0.00"), help_text="KES, maturing.")
    withdrawable = models.DecimalField(**MONEY, default=Decimal("0.00"), help_text="KES.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return f"Wallet of {self.member}"


class Earning(models.Model):
    """Money a member earned by their own work: PENDING until ``matures_at``, then MATURED."""

    class Status(models.TextChoices):
        PENDING = "pending"
        MATURED = "matured"

    class Source(models.TextChoices):
        ASSIGNMENT = "assignment"
        # A balance brought from another system by an import (apps/imports): one PENDING and
        # one MATURED row per member at most, source_id "<member id>-pending|-withdrawable".
        OPENING = "opening"

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="earnings"
    )
    amount = models.DecimalField(**MONEY)
    source_kind = models.CharField(max_length=16, choices=Source.choices)
    source_id = models.CharField(max_length=64)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    matures_at = models.DateTimeField()
    matured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One earning per cause: crediting a completion twice is refused by the database.
            models.UniqueConstraint(fields=["source_kind", "source_id"], name="earning_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="earning_positive"),
        ]
        indexes = [
            # What maturation sweeps, and nothing more: an index on every status would be
            # rewritten for each matured row.
            models.Index(
                fields=["matures_at"],
                condition=Q(status="pending"),
                name="earning_pending_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} to {self.member_id} ({self.source_kind} {self.source_id})"


class SweepChunk(models.Model):
    """What one chunk of a sweep run credited, per member: ``credits`` is a list of [member
    id, rows, total]. Written in the chunk's own statement (SQLite: transaction), so a digest
    says exactly what was credited; one row per chunk, not per member, keeps the sweep fast.
    The run's digest folds it into SweepCredit rows and deletes it."""

    sweep = models.CharField(max_length=32, help_text="The sweep's name (LedgerSweep.name).")
    run = models.CharField(max_length=64, help_text="The run: the id of the task that began it.")
    created_at = models.DateTimeField()
    credits = models.JSONField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["sweep", "run"], name="sweep_chunk_run")]

    def __str__(self) -> str:
        return f"{self.sweep} {self.run}: chunk {self.pk}"


class SweepCredit(models.Model):
    """What one sweep run credited one member (its SweepChunk rows folded together), told to
    the member in one digest once the run finishes: one notice per member per run.

    A row is frozen once told: the one-open-row constraint covers only rows not yet told, so
    what the run credits after its digest went out (a rerun of its last task) opens a new
    row and a digest of its own, instead of vanishing into a row already told."""

    sweep = models.CharField(max_length=32, help_text="The sweep's name (LedgerSweep.name).")
    run = models.CharField(max_length=64, help_text="The run: the id of the task that began it.")
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sweep_credits"
    )
    rows = models.PositiveIntegerField(help_text="Ledger rows credited.")
    total = models.DecimalField(**MONEY, help_text="KES.")
    created_at = models.DateTimeField(help_text="When the run first credited them.")
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sweep", "run", "member"],
                condition=Q(notified_at__isnull=True),
                name="sweep_credit_open",
            ),
        ]
        indexes = [
            # The daily prune of old rows.
            models.Index(fields=["created_at"], name="sweep_credit_created"),
        ]

    def __str__(self) -> str:
        return f"{self.sweep} {self.run}: {self.total} to {self.member_id}"
