import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from apps.accounts.phone import PhoneField

KES = "KES"


def validate_whole_shillings(value: Decimal) -> None:
    # M-Pesa moves whole shillings only: an STK push for 49.50 is refused.
    if value != value.to_integral_value():
        raise ValidationError("Prices are whole shillings (M-Pesa takes no cents).")


class Package(models.Model):
    """What a buyer pays for: time on the hotspot at a speed, optionally capped in bytes."""

    code = models.SlugField(max_length=32, unique=True, help_text="Used by the captive portal.")
    name = models.CharField(max_length=100)
    price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("1")), validate_whole_shillings],
        help_text="KES, whole shillings.",
    )
    duration = models.DurationField(help_text="How long access lasts, e.g. 1:00:00.")
    rate_limit = models.CharField(
        max_length=32,
        blank=True,
        validators=[RegexValidator(r"^\d+[kKmMgG]?/\d+[kKmMgG]?$", "Write it rx/tx, e.g. 2M/2M.")],
        help_text="Upload/download limit as RouterOS writes it, e.g. 2M/2M.",
    )
    data_cap_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    routers = models.ManyToManyField(
        "provisioning.Router",
        blank=True,
        related_name="packages",
        help_text="Sold only on these routers' hotspots; none: on every router.",
    )
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "price", "code"]

    def __str__(self) -> str:
        return f"{self.name} (KES {self.price})"


class Payment(models.Model):
    """One purchase and the money for it. The id is the buyer's only key, so it is a UUID.

    PENDING -> PAID -> FULFILLED, or PENDING -> FAILED | CANCELLED. Every transition is a
    conditional UPDATE on the current status (apps/payments/services/transitions.py), so a
    second delivery or a concurrent worker changes nothing.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        FULFILLED = "fulfilled"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class Method(models.TextChoices):
        # Paybill is M-Pesa too; the API still calls the STK push "mpesa" (views.purchases).
        STK_PUSH = "stk_push", "M-Pesa STK push"
        PAYBILL = "paybill", "M-Pesa paybill (C2B)"
        STRIPE = "stripe", "Stripe"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(
        max_length=12, unique=True, help_text="Account number for paybill (C2B BillRefNumber)."
    )
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="payments")
    phone = PhoneField()
    member = models.ForeignKey(
        "accounts.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    router = models.ForeignKey(
        "provisioning.Router",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        help_text="The hotspot it was bought on: its subscription goes to this router.",
    )
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default=KES)
    method = models.CharField(max_length=8, choices=Method.choices, default=Method.STK_PUSH)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    mpesa_receipt = models.CharField(
        max_length=32,
        unique=True,
        null=True,
        blank=True,
        help_text="M-Pesa transaction id: MpesaReceiptNumber (STK) or TransID (C2B).",
    )
    stripe_reference = models.CharField(
        max_length=255, unique=True, null=True, blank=True, help_text="Checkout session or intent."
    )
    result_code = models.CharField(max_length=32, blank=True, help_text="Daraja's, as text.")
    result_desc = models.TextField(blank=True)
    raw_callback = models.TextField(blank=True, help_text="The body that settled it, as received.")
    nudges = models.PositiveIntegerField(default=0, help_text="Times the reconciler re-sent it.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it failed or was cancelled."
    )
    fulfil_failed_at = models.DateTimeField(
        null=True, blank=True, help_text="When fulfilment gave up (staff were told once)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The reconciler's sweep: open payments by age.
            models.Index(
                fields=["status", "created_at"],
                name="payment_open_idx",
                condition=models.Q(status__in=["pending", "paid"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.get_status_display()} KES {self.amount}"


class StkRequest(models.Model):
    """One STK push Daraja accepted. A payment normally has one; a retried push after an
    ambiguous failure may leave two, and a callback for either still finds its payment."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="stk_requests")
    checkout_request_id = models.CharField(max_length=64, unique=True)
    merchant_request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    queried_at = models.DateTimeField(null=True, blank=True, help_text="Last STK query.")
    query_result = models.CharField(
        max_length=32,
        blank=True,
        help_text="What the last STK query answered: a ResultCode, or Daraja's error code.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.checkout_request_id


class CheckoutSession(models.Model):
    """A Stripe Checkout Session we created for a payment: where the buyer pays by card. A
    payment normally has one; its events name it by id, as Daraja's name a CheckoutRequestID."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="checkout_sessions")
    session_id = models.CharField(max_length=255, unique=True)
    url = models.TextField(help_text="Stripe's hosted page for this session.")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.session_id


class Suspense(models.Model):
    """Money M-Pesa says it moved that no open payment can take: kept for staff to refund
    or apply, never dropped. One row per M-Pesa transaction id (or Stripe object id).

    Open while ``resolved_at`` is empty; resolved once, by staff (``resolved_by``) or by the
    reconciler (no user), either applied to a payment (``applied_to``) or refunded outside
    Conveyor (apps/payments/services/suspense.py)."""

    class Reason(models.TextChoices):
        UNMATCHED = "unmatched", "matches no payment"
        AMOUNT = "amount", "amount differs from the payment's"
        NOT_OPEN = "not_open", "the payment was already paid, failed or cancelled"

    class Resolution(models.TextChoices):
        APPLIED = "applied", "applied to a payment"
        REFUNDED = "refunded", "refunded outside Conveyor"

    receipt = models.CharField(max_length=255, unique=True)  # Stripe's ids run to 255
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    reference = models.CharField(max_length=64, blank=True, help_text="BillRefNumber, if any.")
    checkout_request_id = models.CharField(
        max_length=64,
        blank=True,
        db_index=True,
        help_text="Of an STK callback that arrived before its push was saved, to apply later.",
    )
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    raw_callback = models.TextField()
    received_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(
        max_length=16,
        choices=Resolution.choices,
        blank=True,
        help_text="Empty while open (or if resolved before this was recorded).",
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty when the reconciler applied it.",
    )
    applied_to = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="suspense_applied",
        help_text="The payment this money paid.",
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "suspense"

    def __str__(self) -> str:
        return f"{self.receipt} KES {self.amount} ({self.get_reason_display()})"


class StripeEvent(models.Model):
    """A Stripe event already handled: Stripe delivers some events more than once."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class Receipt(models.Model):
    """A fulfilled payment's receipt: its number, and where its PDF is once drawn
    (apps/payments/services/receipts.py).

    The number is RECEIPT_PREFIX and this row's id, zero-padded to 8 digits. The database
    hands out the ids, so receipts made at once never share a number and none waits on a
    counter row's lock; an id lost to a rolled-back transaction leaves a gap, so numbers rise
    but may skip one. It is stored, not derived, so a later change of prefix leaves the
    numbers already printed as they are. What the sale was is kept with it too (the package's
    name, the VAT rate), so a receipt drawn again after an edit or a new rate says the same."""

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="receipt")
    # Empty only inside the transaction that creates the row (the id comes first).
    number = models.CharField(max_length=32, unique=True, null=True, blank=True)
    package_name = models.CharField(max_length=100)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=4, help_text="0.16 is 16 %.")
    file = models.CharField(max_length=255, blank=True, help_text="Its name in storage.")
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveIntegerField(default=0, help_text="Bytes.")
    created_at = models.DateTimeField(default=timezone.now)
    generated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the PDF was last drawn; empty: not yet."
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number or f"receipt of {self.payment_id}"
