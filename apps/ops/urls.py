from django.urls import path

from apps.ops import views, views_metrics, views_runs

ops = [
    path("", views.page, name="page"),
    path("data/", views.data, name="data"),
    path("events/", views.events, name="events"),
    path("jobs/", views_runs.jobs_page, name="jobs"),
    path("jobs/data/", views_runs.jobs_data, name="jobs-data"),
    path("timeline/", views_runs.timeline_page, name="timeline"),
    path("timeline/data/", views_runs.timeline_data, name="timeline-data"),
    path("metrics/", views_metrics.metrics_page, name="metrics"),
    path("metrics/data/", views_metrics.metrics_data, name="metrics-data"),
    path("failed/flush/", views.failed_flush, name="failed-flush"),
    path("batches/<str:batch_id>/", views.batch_page, name="batch"),
    path("batches/<str:batch_id>/data/", views.batch_data, name="batch-data"),
    path(
        "batches/<str:batch_id>/retry/",
        views.batch_action,
        {"action": "retry"},
        name="batch-retry",
    ),
    path(
        "batches/<str:batch_id>/cancel/",
        views.batch_action,
        {"action": "cancel"},
        name="batch-cancel",
    ),
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
