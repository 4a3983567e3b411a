from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from apps.accounts.models import Member
from apps.ops.tags import timeline_link


class MemberCreationForm(UserCreationForm):
    class Meta:
        model = Member
        fields = ("phone", "name", "referred_by")


class MemberChangeForm(UserChangeForm):
    class Meta:
        model = Member
        fields = "__all__"


@admin.register(Member)
class MemberAdmin(UserAdmin):
    form = MemberChangeForm
    add_form = MemberCreationForm
    list_display = ("phone", "name", "referred_by", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("phone", "name", "email")
    ordering = ("-date_joined",)
    raw_id_fields = ("referred_by",)
    fieldsets = (
        (None, {"fields": ("phone", "password")}),
        ("Profile", {"fields": ("name", "email", "referred_by")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Dates", {"fields": ("last_login", "date_joined")}),
        ("Activity", {"fields": ("task_runs",)}),
    )
    readonly_fields = ("task_runs",)

    @admin.display(description="Task runs")
    def task_runs(self, obj):
        """The member's own tasks and those of their newest payments and subscriptions."""
        payments = obj.payments.order_by("-created_at").values_list("pk", flat=True)[:4]
        subscriptions = obj.subscriptions.order_by("-created_at").values_list("pk", flat=True)[:5]
        return timeline_link(
            [
                f"member:{obj.pk}",
                *(f"payment:{pk}" for pk in payments),
                *(f"subscription:{pk}" for pk in subscriptions),
            ]
        )

    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("phone", "name", "referred_by", "password1", "password2"),
            },
        ),
    )
