from django.contrib import admin

from apps.commissions.models import CommissionLedger, CommissionRate
from apps.commissions.services import commission_rate_save
from apps.wallets.admin import ReadOnlyAdmin


@admin.register(CommissionRate)
class CommissionRateAdmin(admin.ModelAdmin):
    """Rates apply to causes from the moment they are saved; rows written keep their rate.
    A changed rate is announced to every active member (Broadcasts, on the operations page)."""

    list_display = ("level", "rate", "is_active")
    list_editable = ("rate", "is_active")

    def save_model(self, request, obj, form, change):
        if commission_rate_save(rate=obj):
            self.message_user(request, f"Level {obj.level}: every active member is being told.")


@admin.register(CommissionLedger)
class CommissionLedgerAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "beneficiary",
        "source_member",
        "source_kind",
        "source_id",
        "level",
        "rate",
        "amount",
        "status",
        "created_at",
        "processed_at",
    )
    list_filter = ("status", "source_kind", "level")
    search_fields = ("beneficiary__phone", "source_id")
    list_select_related = ("beneficiary", "source_member")
    show_full_result_count = False
