"""Notices, preferences and broadcasts in Django admin: read only, but for Resend and for
Send a message (admin_messages.py)."""

from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils.html import format_html

from apps.common.errors import ApplicationError
from apps.notifications.admin_messages import send_message_view
from apps.notifications.kinds import KINDS
from apps.notifications.models import Broadcast, Notification, Preference
from apps.notifications.segments import segment_describe
from apps.notifications.services import notification_resend


class KindFilter(admin.SimpleListFilter):
    """The kinds from the code, not a SELECT DISTINCT over every notice ever written."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(name, name) for name in KINDS]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Every notice sent or to be sent. Read only: Resend writes a new row for a failed or
    unknown one (the old row stays, so nothing is sent twice without a trace)."""

    list_display = (
        "id",
        "created_at",
        "kind",
        "channel",
        "address",
        "status",
        "attempts",
        "reason",
        "provider_id",
    )
    # No date_hierarchy: its drill-down reads the distinct dates of the whole table; the
    # created_at filter (today, past 7 days, this month, this year) asks for none.
    list_filter = ("channel", "status", KindFilter, "created_at")
    search_fields = ("address", "provider_id", "member__phone", "key")
    show_full_result_count = False
    actions = ("resend",)
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_resend_permission(self, request):
        # It sends a message: viewing notices is not enough (no one may edit them, so the
        # change permission says who may do this).
        return request.user.has_perm("notifications.change_notification")

    @admin.action(description="Resend: write a new notice and send it", permissions=["resend"])
    def resend(self, request, queryset):
        count = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                notification_resend(notification_id=pk)
                count += 1
            except ApplicationError as exc:
                self.message_user(request, f"#{pk}: {exc}", messages.ERROR)
        if count:
            self.message_user(
                request, f"{count} notice(s) written again and queued.", messages.SUCCESS
            )


@admin.register(Preference)
class PreferenceAdmin(admin.ModelAdmin):
    list_display = ("member", "sms", "email")
    search_fields = ("member__phone",)
    raw_id_fields = ("member",)


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    """Broadcasts with their progress and batch. Staff write to a segment of members with Send
    a message (it needs the add permission); no broadcast is added or edited by hand."""

    list_display = ("id", "created_at", "title", "kind", "state", "progress", "batch", "sent_by")
    list_filter = ("state", "kind")
    readonly_fields = [f.name for f in Broadcast._meta.fields] + ["progress", "batch", "who"]
    change_list_template = "admin/notifications/broadcast/change_list.html"

    def get_urls(self):
        send = path(
            "send/",
            self.admin_site.admin_view(lambda request: send_message_view(self, request)),
            name="notifications_broadcast_send",
        )
        return [send, *super().get_urls()]  # before the detail pages' catch-all

    def changelist_view(self, request, extra_context=None):
        can_send = self.has_send_permission(request)
        return super().changelist_view(request, {**(extra_context or {}), "can_send": can_send})

    def has_send_permission(self, request):
        return request.user.has_perm("notifications.add_broadcast")

    @admin.display(description="progress")
    def progress(self, obj):
        return format_html(
            '<progress max="100" value="{}"></progress> {} of {} ({}%)',
            obj.percent,
            obj.done,
            obj.total,
            obj.percent,
        )

    @admin.display(description="batch")
    def batch(self, obj):
        if obj.batch_id is None:
            return "-"
        url = reverse("ops:batch", args=[str(obj.batch_id)])
        return format_html('<a href="{}">its sends</a>', url)

    @admin.display(description="members")
    def who(self, obj):
        return segment_describe(obj.segment)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
