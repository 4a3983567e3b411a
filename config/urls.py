from django.contrib import admin
from django.urls import include, path

from apps.accounts.urls import api as accounts_api
from apps.engagement.urls import api as engagement_api
from apps.notifications.urls import api as notifications_api
from apps.notifications.urls import hooks as notification_hooks
from apps.ops.urls import ops
from apps.ops.views import healthz, metrics
from apps.payments.urls import api as payments_api
from apps.payments.urls import hooks
from apps.wallets.urls import api as wallets_api

api = payments_api + accounts_api + engagement_api + wallets_api + notifications_api

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/", include((api, "api"))),
    path("hooks/", include((hooks + notification_hooks, "hooks"))),
    path("metrics", metrics, name="metrics"),
    path("admin/ops/", include((ops, "ops"))),  # before admin/, which would claim it
    path("admin/documents/files/", include("apps.documents.urls")),
    path("admin/", admin.site.urls),
]
