from django.contrib import admin

from apps.engagement.models import Activity, Assignment
from apps.wallets.admin import ReadOnlyAdmin


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "reward", "is_active")
    list_filter = ("kind", "is_active")
    list_editable = ("is_active",)
    search_fields = ("title",)


@admin.register(Assignment)
class AssignmentAdmin(ReadOnlyAdmin):
    """Completing is the member's act (it credits money): staff see, they do not tick."""

    list_display = ("id", "member", "activity", "day", "status", "completed_at")
    list_filter = ("status", "day", "activity__kind")
    search_fields = ("member__phone",)
    list_select_related = ("member", "activity")
    raw_id_fields = ("member",)
    show_full_result_count = False
