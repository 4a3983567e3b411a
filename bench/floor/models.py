"""The floor's one table: a purchase and the moments it moved."""

from django.db import models
from django.db.models import Q


class Purchase(models.Model):
    class Status(models.TextChoices):
        PENDING = "PENDING"
        PAID = "PAID"
        FULFILLED = "FULFILLED"

    id = models.BigAutoField(primary_key=True)
    phone = models.CharField(max_length=15)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    # NULL until known, as the product's columns are; "" would be a value.
    checkout_id = models.CharField(max_length=64, null=True)  # noqa: DJ001
    receipt = models.CharField(max_length=32, null=True)  # noqa: DJ001
    # The hotspot user's password, for the SMS; the gateway's id of that SMS, for its report.
    password = models.CharField(max_length=16, null=True)  # noqa: DJ001
    message_id = models.CharField(max_length=64, null=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True)
    fulfilled_at = models.DateTimeField(null=True)
    provisioned_at = models.DateTimeField(null=True)
    sms_sent_at = models.DateTimeField(null=True)
    sms_delivered_at = models.DateTimeField(null=True)

    class Meta:
        db_table = "floor_purchase"  # bench/floor/run.py reads it by this name
        # Delivery reports name the message, not the purchase; the product indexes its
        # message ids the same way (only the rows that have one).
        indexes = [
            models.Index(
                fields=["message_id"],
                condition=Q(message_id__isnull=False),
                name="floor_purchase_message_id",
            )
        ]

    def __str__(self) -> str:
        return f"purchase {self.id} {self.status}"
