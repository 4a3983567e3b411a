from django.contrib import admin, messages
from django.utils.html import format_html

from apps.common.errors import ApplicationError
from apps.ops.models import AdminEvent, FailedTask
from apps.ops.services import failed_task_forget, failed_task_retry


@admin.register(FailedTask)
class FailedTaskAdmin(admin.ModelAdmin):
    list_display = ("id", "failed_at", "queue", "task_name", "attempts", "reason", "error")
    list_filter = ("queue", "reason", "task_name")
    search_fields = ("task_id", "task_name", "exception_type", "exception_message", "tags")
    date_hierarchy = "failed_at"
    actions = ("retry", "forget")
    exclude = ("traceback",)
    readonly_fields = (
        *tuple(f.name for f in FailedTask._meta.fields if f.name != "traceback"),
        "traceback_text",
    )

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # "forget" says what it does
        return actions

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="error")
    def error(self, obj):
        return obj.error_summary()[:120]

    @admin.display(description="traceback")
    def traceback_text(self, obj):
        return format_html("<pre>{}</pre>", obj.traceback)

    @admin.action(description="Retry: publish again on its queue", permissions=["delete"])
    def retry(self, request, queryset):
        self._each(request, queryset, lambda pk: failed_task_retry(failed_task_id=pk), "retried")

    @admin.action(description="Forget: delete without running", permissions=["delete"])
    def forget(self, request, queryset):
        self._each(request, queryset, lambda pk: failed_task_forget(failed_task_id=pk), "forgotten")

    def _each(self, request, queryset, action, done: str) -> None:
        count = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                action(pk)
                count += 1
            except ApplicationError as exc:
                self.message_user(request, str(exc), messages.ERROR)
        self.message_user(request, f"{count} failed task(s) {done}.", messages.SUCCESS)


@admin.register(AdminEvent)
class AdminEventAdmin(admin.ModelAdmin):
    list_display = ("id", "created_at", "type", "summary", "tags")
    list_filter = ("type",)
    search_fields = ("tags",)
    date_hierarchy = "created_at"
    readonly_fields = ("type", "payload", "created_at", "tags")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="summary")
    def summary(self, obj):
        payment = obj.payload.get("payment", {})
        parts = [
            payment.get("id"),
            payment.get("amount"),
            payment.get("phone_number"),
            obj.payload.get("error"),
        ]
        return " · ".join(str(p) for p in parts if p)
