from django.urls import path

from apps.ops import views

ops = [
    path("", views.page, name="page"),
    path("data/", views.data, name="data"),
    path("events/", views.events, name="events"),
    path("failed/flush/", views.failed_flush, name="failed-flush"),
    path(
        "failed/<int:failed_task_id>/retry/",
        views.failed_action,
        {"action": "retry"},
        name="failed-retry",
    ),
    path(
        "failed/<int:failed_task_id>/forget/",
        views.failed_action,
        {"action": "forget"},
        name="failed-forget",
    ),
]
