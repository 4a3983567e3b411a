from django.contrib import admin
from django.urls import include, path

from apps.ops.views import healthz
from apps.payments.urls import api, hooks

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/", include((api, "api"))),
    path("hooks/", include((hooks, "hooks"))),
    path("admin/", admin.site.urls),
]
