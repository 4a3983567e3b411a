from django.contrib import admin

from apps.wallets.models import Earning, SweepCredit, Wallet


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money moves only through its services and sweeps: staff look, never type amounts."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ("member", "pending", "withdrawable", "updated_at")
    search_fields = ("member__phone", "member__name")
    list_select_related = ("member",)
    show_full_result_count = False  # COUNT(*) over a big table on every page


@admin.register(Earning)
class EarningAdmin(ReadOnlyAdmin):
    list_display = ("id", "member", "amount", "source_kind", "source_id", "status", "matures_at")
    list_filter = ("status", "source_kind")
    search_fields = ("member__phone", "source_id")
    list_select_related = ("member",)
    raw_id_fields = ("member",)
    show_full_result_count = False


@admin.register(SweepCredit)
class SweepCreditAdmin(ReadOnlyAdmin):
    list_display = ("id", "sweep", "run", "member", "rows", "total", "created_at", "notified_at")
    list_filter = ("sweep",)
    search_fields = ("run", "member__phone")
    list_select_related = ("member",)
    raw_id_fields = ("member",)
    show_full_result_count = False
