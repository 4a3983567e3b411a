from django import forms
from django.contrib import admin

from apps.ops.tags import timeline_link
from apps.provisioning.models import (
    RadCheck,
    RadGroupCheck,
    RadGroupReply,
    RadReply,
    RadUserGroup,
    Router,
    Subscription,
)


class RouterForm(forms.ModelForm):
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=True),
        help_text="Stored encrypted (FIELD_ENCRYPTION_KEYS).",
    )

    class Meta:
        model = Router
        fields = [
            "name",
            "identity",
            "host",
            "port",
            "use_tls",
            "username",
            "password",
            "is_active",
        ]


@admin.register(Router)
class RouterAdmin(admin.ModelAdmin):
    form = RouterForm
    list_display = (
        "name",
        "identity",
        "host",
        "port",
        "use_tls",
        "is_active",
        "last_seen_at",
        "cpu_load",
        "free_memory",
        "uptime",
        "last_error",
    )
    list_filter = ("is_active", "use_tls")
    readonly_fields = ("last_seen_at", "checked_at", "last_error", "resources")

    @admin.display(description="CPU %")
    def cpu_load(self, obj):
        return obj.resources.get("cpu-load", "-")

    @admin.display(description="free memory")
    def free_memory(self, obj):
        free = obj.resources.get("free-memory")
        return f"{int(free) // 2**20} MiB" if free else "-"

    @admin.display(description="uptime")
    def uptime(self, obj):
        return obj.resources.get("uptime", "-")


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    """Subscriptions change through provisioning and expiry, not by hand."""

    list_display = (
        "username",
        "member",
        "package",
        "router",
        "status",
        "starts_at",
        "ends_at",
        "provisioned_at",
    )
    list_filter = ("status", "package", "router")
    search_fields = ("username", "member__phone", "payment__reference")
    date_hierarchy = "created_at"
    exclude = ("password",)
    readonly_fields = [
        *(f.name for f in Subscription._meta.fields if f.name != "password"),
        "task_runs",
    ]

    @admin.display(description="Task runs")
    def task_runs(self, obj):
        return timeline_link([f"subscription:{obj.pk}", f"payment:{obj.payment_id}"])

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RadiusAdmin(admin.ModelAdmin):
    """FreeRADIUS's rows, as FreeRADIUS reads them (written by provisioning)."""

    search_fields = ("username",)


for model, columns in (
    (RadCheck, ("username", "attribute", "op", "value")),
    (RadReply, ("username", "attribute", "op", "value")),
    (RadUserGroup, ("username", "groupname", "priority")),
    (RadGroupCheck, ("groupname", "attribute", "op", "value")),
    (RadGroupReply, ("groupname", "attribute", "op", "value")),
):
    admin.site.register(
        model,
        type(
            f"{model.__name__}Admin",
            (RadiusAdmin,),
            {
                "list_display": columns,
                "search_fields": (columns[0],),
            },
        ),
    )
