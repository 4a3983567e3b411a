"""What uplines earn from their referrals' work and purchases."""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from apps.wallets.models import MONEY


class CommissionRate(models.Model):
    """The share of a cause's amount paid to the upline ``level`` steps above its member."""

    level = models.PositiveSmallIntegerField(unique=True, validators=[MinValueValidator(1)])
    rate = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text="A fraction: 0.1000 is 10%.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["level"]

    def __str__(self) -> str:
        return f"Level {self.level}: {self.rate * 100:.2f}%"


class CommissionLedger(models.Model):
    """One commission: PENDING when its cause happens, PROCESSED when disbursed (credited to
    the beneficiary's withdrawable balance). Append-only; never edited by hand."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSED = "processed"

    class Source(models.TextChoices):
        ASSIGNMENT = "assignment"
        PURCHASE = "purchase"

    beneficiary = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commissions"
    )
    # Not indexed: each index is rewritten when a row is disbursed (see audit_ledger).
    source_member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    source_kind = models.CharField(max_length=16, choices=Source.choices)
    source_id = models.CharField(max_length=64)
    level = models.PositiveSmallIntegerField()
    rate = models.DecimalField(max_digits=5, decimal_places=4)
    base_amount = models.DecimalField(**MONEY, help_text="The cause's amount, KES.")
    amount = models.DecimalField(**MONEY, help_text="base x rate, rounded down to the cent.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "commission"
        constraints = [
            models.UniqueConstraint(
                fields=["source_kind", "source_id", "level"], name="commission_once_per_level"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="commission_positive"),
        ]
        indexes = [
            models.Index(fields=["id"], condition=Q(status="pending"), name="commission_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} to {self.beneficiary_id} (L{self.level} {self.source_kind})"
