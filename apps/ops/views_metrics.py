"""The metrics screen (/admin/ops/metrics/): four charts per queue over the last hour or day,
and their data (staff only)."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.common import redis_client
from apps.common.http import redis_unavailable
from apps.ops import metric_series
from apps.ops.views import staff_only
from config import queues


@never_cache
@staff_member_required
def metrics_page(request):
    context = {
        "title": "Metrics over time",
        "queues": queues.NAMES,
        "site_header": "Conveyor",
        "has_permission": True,
    }
    return render(request, "ops/metrics.html", context)


@never_cache
@require_GET
@staff_only
def metrics_data(request):
    """``?queue=`` (empty: every queue) and ``?range=1h|24h`` (default 1h)."""
    queue = request.GET.get("queue", "")
    shown = request.GET.get("range", "1h")
    if queue and queue not in queues.NAMES:
        return _bad("queue", f"queue must be empty or one of {', '.join(queues.NAMES)}")
    if shown not in metric_series.RANGES:
        return _bad("range", f"range must be one of {', '.join(metric_series.RANGES)}")
    minutes, step = metric_series.RANGES[shown]
    try:
        data = metric_series.series(queue=queue or None, minutes=minutes, step=step)
    except redis_client.REDIS_ERRORS as exc:
        return redis_unavailable(exc)
    return JsonResponse({"queue": queue or None, "range": shown, **data})


def _bad(field: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": "bad_query", "field": field, "message": message}}, status=400
    )
