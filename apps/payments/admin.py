from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.html import format_html

from apps.common.errors import ApplicationError
from apps.ops.tags import timeline_link
from apps.payments import selectors
from apps.payments.forms import ApplyAsPurchaseForm, ApplyToPaymentForm
from apps.payments.models import Package, Payment, StkRequest, StripeEvent, Suspense
from apps.payments.services import (
    normalize_reference,
    receipts_enqueue,
    suspense_apply,
    suspense_apply_as_purchase,
    suspense_mark_refunded,
)
from apps.provisioning.services import radius_group_write


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
    filter_horizontal = ("routers",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # The plan travels to FreeRADIUS as the group's rows: an edit replaces them.
        radius_group_write(package=obj, previous_code=form.initial.get("code"))


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
    readonly_fields = [*(f.name for f in Payment._meta.fields), "receipt_pdf", "task_runs"]
    actions = ("regenerate_receipt",)

    @admin.display(description="Receipt")
    def receipt_pdf(self, obj):
        link = selectors.receipt_link(obj)
        if link is None:
            return "not made yet" if obj.status == Payment.Status.FULFILLED else "-"
        return format_html('<a href="{}">{}</a>', link["url"], link["number"])

    @admin.action(description="Regenerate receipt")
    def regenerate_receipt(self, request, queryset):
        selected = list(queryset.values_list("pk", flat=True))
        sent = receipts_enqueue(payment_ids=selected)
        self.message_user(
            request,
            f"{sent} receipt{'' if sent == 1 else 's'} will be made again on the documents "
            f"queue; {len(selected) - sent} not fulfilled, skipped.",
            messages.SUCCESS if sent else messages.WARNING,
        )

    @admin.display(description="Task runs")
    def task_runs(self, obj):
        """The payment's prompts and queries, and the subscription it paid for."""
        tags = [
            f"payment:{obj.pk}",
            *(f"stk_request:{pk}" for pk in obj.stk_requests.values_list("pk", flat=True)[:8]),
        ]
        if subscription := getattr(obj, "subscription", None):
            tags.append(f"subscription:{subscription.pk}")
        return timeline_link(tags)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Suspense)
class SuspenseAdmin(admin.ModelAdmin):
    """Money held aside. Its actions resolve a row once, each through a service:
    apply it to a pending payment, apply it as a new purchase, or mark it refunded."""

    list_display = (
        "receipt",
        "received_at",
        "amount",
        "reference",
        "reason",
        "payment",
        "resolved_at",
        "resolution",
        "applied_to",
        "resolved_by",
    )
    list_filter = ("reason", "resolution", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("receipt", "reference", "checkout_request_id")
    readonly_fields = (
        "receipt",
        "amount",
        "reference",
        "checkout_request_id",
        "payment",
        "reason",
        "raw_callback",
        "received_at",
        "resolved_at",
        "resolution",
        "applied_to",
        "resolved_by",
    )
    fields = (*readonly_fields, "note")
    actions = ("apply_to_payment", "apply_as_purchase", "mark_refunded")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Apply to a pending payment…")
    def apply_to_payment(self, request, queryset):
        return self._apply(request, queryset, ApplyToPaymentForm, "Apply to a pending payment")

    @admin.action(description="Apply as a new purchase…")
    def apply_as_purchase(self, request, queryset):
        return self._apply(request, queryset, ApplyAsPurchaseForm, "Apply as a new purchase")

    @admin.action(description="Mark refunded outside Conveyor")
    def mark_refunded(self, request, queryset):
        done = suspense_mark_refunded(
            ids=list(queryset.values_list("pk", flat=True)), user_id=request.user.pk
        )
        self.message_user(
            request, f"{done} suspense entr{'y' if done == 1 else 'ies'} marked refunded."
        )

    def _apply(self, request, queryset, form_class, title):
        """The intermediate page (GET-like first visit, then its POST with ``apply``)."""
        ids = list(queryset.values_list("pk", flat=True))
        if len(ids) != 1:
            self.message_user(request, "Apply one entry at a time.", messages.ERROR)
            return None
        row = selectors.suspense_get(suspense_id=ids[0])
        phone = selectors.suspense_phone(suspense=row)
        candidates = selectors.payment_list_open_for_suspense(
            suspense=row, reference=normalize_reference(row.reference)
        )
        if "apply" in request.POST:
            form = form_class(request.POST)
            if form.is_valid():
                try:
                    payment = self._apply_service(row, form.cleaned_data, request.user.pk)
                except ApplicationError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                    return None
                self.message_user(
                    request,
                    f"{row.receipt} applied to payment {payment.reference}; "
                    "it is paid and being fulfilled.",
                )
                return None
        else:
            form = form_class(initial=self._initial(row, phone, candidates))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "row": row,
            "phone": phone,
            "candidates": candidates,
            "form": form,
            "action": request.POST.get("action"),
        }
        return TemplateResponse(request, "admin/payments/suspense/apply.html", context)

    @staticmethod
    def _apply_service(row, data, user_id):
        if "reference" in data:
            payment = selectors.payment_get_by_reference(
                reference=normalize_reference(data["reference"])
            )
            if payment is None:
                raise ApplicationError(f"There is no payment {data['reference']}.")
            return suspense_apply(suspense_id=row.pk, payment_id=payment.pk, user_id=user_id)
        return suspense_apply_as_purchase(
            suspense_id=row.pk,
            phone=data["phone"],
            package_code=data["package"],
            router_key=data["router"] or None,
            user_id=user_id,
        )

    @staticmethod
    def _initial(row, phone, candidates) -> dict:
        priced = [p for p in selectors.package_list_on_sale() if p.price == row.amount]
        return {
            "reference": candidates[0].reference if candidates else "",
            "phone": phone,
            "package": priced[0].code if priced else None,
        }


@admin.register(StripeEvent)
class StripeEventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "type", "payment", "received_at")
    search_fields = ("event_id",)
    readonly_fields = ("event_id", "type", "payment", "received_at")

    def has_add_permission(self, request):
        return False
