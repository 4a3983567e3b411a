from django.contrib import admin

from apps.payments.models import Package, Payment, StkRequest, StripeEvent, Suspense
from apps.payments.services import suspense_resolve


@admin.register(Package)
class PackageAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "price",
        "duration",
        "rate_limit",
        "data_cap_bytes",
        "is_active",
        "sort_order",
    )
    list_editable = ("is_active", "sort_order")
    search_fields = ("code", "name")


class StkRequestInline(admin.TabularInline):
    model = StkRequest
    extra = 0
    can_delete = False
    readonly_fields = ("checkout_request_id", "merchant_request_id", "created_at", "queried_at")


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Payments change only through their state machine, never by hand."""

    list_display = (
        "reference",
        "created_at",
        "phone",
        "package",
        "amount",
        "method",
        "status",
        "mpesa_receipt",
        "result_code",
    )
    list_filter = ("status", "method", "package")
    search_fields = ("id", "reference", "phone", "mpesa_receipt", "stripe_reference")
    date_hierarchy = "created_at"
    inlines = [StkRequestInline]
    readonly_fields = [f.name for f in Payment._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Suspense)
class SuspenseAdmin(admin.ModelAdmin):
    list_display = (
        "receipt",
        "received_at",
        "amount",
        "reference",
        "reason",
        "payment",
        "resolved_at",
    )
    list_filter = ("reason", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("receipt", "reference")
    readonly_fields = (
        "receipt",
        "amount",
        "reference",
        "payment",
        "reason",
        "raw_callback",
        "received_at",
        "resolved_at",
    )
    fields = (*readonly_fields, "note")
    actions = ("resolve",)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark resolved (refunded or matched by hand)")
    def resolve(self, request, queryset):
        done = suspense_resolve(ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{done} suspense entr{'y' if done == 1 else 'ies'} resolved.")


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "type", "payment", "received_at")
    search_fields = ("event_id",)
    readonly_fields = ("event_id", "type", "payment", "received_at")

    def has_add_permission(self, request):
        return False
