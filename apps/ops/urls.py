from django.urls import path

from apps.ops import console

ops = [
    path("", console.page, name="page"),
    path("data/", console.data, name="data"),
    path("events/", console.events, name="events"),
    path("failed/flush/", console.failed_flush, name="failed-flush"),
    path(
        "failed/<int:failed_task_id>/retry/",
        console.failed_action,
        {"action": "retry"},
        name="failed-retry",
    ),
    path(
        "failed/<int:failed_task_id>/forget/",
        console.failed_action,
        {"action": "forget"},
        name="failed-forget",
    ),
]
