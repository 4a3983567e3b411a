from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from apps.ops.selectors import health


@csrf_exempt  # it only reads; a POST gets a plain 405, not a CSRF page
@never_cache
@require_safe
def healthz(request):
    """200 when the database and the broker both answer, 503 otherwise."""
    state = health()
    body = {"status": "ok" if state["ok"] else "unavailable", **state["checks"]}
    return JsonResponse(body, status=200 if state["ok"] else 503)
