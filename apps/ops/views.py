"""The ops views: the operations page (/admin/ops/), its data, its live event stream and its
actions on failed tasks (staff only); /metrics (staff, or a bearer token for scrapers); and
/healthz (anyone). GETs only read; every write is a POST that calls a service."""

import json
import logging
import time
from functools import wraps

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST, require_safe

from apps.common.errors import ApplicationError
from apps.ops import batches, broker, panels, prometheus, selectors
from apps.ops.services import (
    ADMIN_CHANNEL,
    failed_task_forget,
    failed_task_retry,
    failed_tasks_flush,
)

log = logging.getLogger("conveyor.ops.http")


def _is_staff(request) -> bool:
    return request.user.is_active and request.user.is_staff


def staff_only(view):
    """401 for nobody, 403 for a member who is not staff: for data, not pages."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not _is_staff(request):
            status = 403 if request.user.is_authenticated else 401
            return JsonResponse({"error": {"code": "staff_only"}}, status=status)
        return view(request, *args, **kwargs)

    return wrapped


@never_cache
@staff_member_required
def page(request):
    context = {
        "title": "Operations",
        "flower_url": settings.FLOWER_URL,
        "schedules_url": reverse("admin:django_celery_beat_periodictask_changelist"),
        "site_header": "Conveyor",
        "has_permission": True,
    }
    return render(request, "ops/page.html", context)


@never_cache
@require_GET
@staff_only
def data(request):
    """Everything the page shows, as JSON; ``?tag=payment:...`` narrows failures and events."""
    tag = request.GET.get("tag", "").strip()[:200]
    try:
        queues, broker_error = selectors.queue_rows(), ""
    except broker.BROKER_ERRORS as exc:
        queues, broker_error = [], f"the broker does not answer: {exc}"
    return JsonResponse(
        {
            "at": time.time(),
            "queues": queues,
            "broker_error": broker_error,
            "failed": selectors.failed_rows(tag),
            "events": selectors.event_rows(tag),
            "schedules": selectors.schedule_rows(),
            "panels": panels.panel_rows(),
            "batches": batches.batch_list(limit=20),
        }
    )


@never_cache
@staff_member_required
def batch_page(request, batch_id: str):
    """One batch: its progress, its jobs by state, its failed jobs; retry and cancel."""
    try:
        batch = batches.batch_get(batch_id=batch_id)
    except ApplicationError as exc:
        raise Http404(str(exc)) from None
    context = {
        "title": f"Batch {batch}",
        "batch_id": str(batch.pk),
        "site_header": "Conveyor",
        "has_permission": True,
    }
    return render(request, "ops/batch.html", context)


@never_cache
@require_GET
@staff_only
def batch_data(request, batch_id: str):
    try:
        return JsonResponse(batches.batch_detail(batch_id=batch_id))
    except ApplicationError as exc:
        return JsonResponse({"error": {"code": "not_found", "message": str(exc)}}, status=404)


@require_POST
@staff_only
def batch_action(request, batch_id: str, action: str):
    try:
        if action == "retry":
            retried, errors = batches.batch_retry_failed(batch_id=batch_id)
            if errors:
                raise ApplicationError("; ".join(errors))
            result = {"retried": len(retried)}
        else:
            batches.batch_cancel(batch_id=batch_id)
            result = {}
    except ApplicationError as exc:
        return JsonResponse({"error": {"code": "not_done", "message": str(exc)}}, status=409)
    log.info("ops.batch.%s id=%s by=%s", action, batch_id, request.user.pk)
    return JsonResponse({"ok": True, **result})


@require_POST
@staff_only
def failed_action(request, failed_task_id: int, action: str):
    try:
        if action == "retry":
            failed_task_retry(failed_task_id=failed_task_id)
        else:
            failed_task_forget(failed_task_id=failed_task_id)
    except ApplicationError as exc:
        return JsonResponse({"error": {"code": "not_done", "message": str(exc)}}, status=409)
    log.info("ops.failed_task.%s id=%s by=%s", action, failed_task_id, request.user.pk)
    return JsonResponse({"ok": True})


@require_POST
@staff_only
def failed_flush(request):
    deleted = failed_tasks_flush()
    log.info("ops.failed_tasks.flushed count=%s by=%s", deleted, request.user.pk)
    return JsonResponse({"ok": True, "deleted": deleted})


@require_GET
@staff_only
def events(request):
    """Server-sent events from the Redis channel admin-notifications. A stream lasts
    EVENT_STREAM_SECONDS; the browser reconnects with Last-Event-ID and gets what it
    missed from the database first; a first connection names the newest event it has in
    ``?after=``, so nothing published before it connects is lost."""
    after = request.headers.get("Last-Event-ID") or request.GET.get("after", "")
    response = StreamingHttpResponse(_stream(after), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy must not hold the stream back
    return response


def _stream(after: str):
    pubsub = broker.client().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(ADMIN_CHANNEL)  # before the catch-up, so nothing falls in between
    try:
        yield "retry: 1000\n\n"
        last = int(after) if after.isdigit() else None
        if last is not None:
            for event in selectors.admin_event_list(after_id=last)[:200]:
                last = event.pk
                yield _sse(event.pk, event.message())
        deadline = time.monotonic() + settings.EVENT_STREAM_SECONDS
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            try:
                message = pubsub.get_message(timeout=1.0)
            except broker.BROKER_ERRORS:
                return  # Redis went away: end the stream; the browser reconnects and catches up
            if message is None:
                if time.monotonic() - quiet_since > 10:
                    yield ": keep-alive\n\n"
                    quiet_since = time.monotonic()
                continue
            event = json.loads(message["data"])
            if last is None or event.get("id", 0) > last:
                last = event.get("id")
                yield _sse(last, event)
                quiet_since = time.monotonic()
    finally:
        pubsub.close()


def _sse(event_id, payload: dict) -> str:
    return f"id: {event_id}\nevent: admin\ndata: {json.dumps(payload, default=str)}\n\n"


@never_cache
@require_GET
def metrics(request):
    """Prometheus text format; a bearer METRICS_TOKEN or a staff session."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    by_token = (
        settings.METRICS_TOKEN
        and scheme.lower() == "bearer"
        and constant_time_compare(token.strip(), settings.METRICS_TOKEN)
    )
    if not by_token and not _is_staff(request):
        response = HttpResponse("authentication required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        body = prometheus.render()
    except broker.BROKER_ERRORS as exc:
        return HttpResponse(f"the broker does not answer: {exc}\n", status=503)
    return HttpResponse(body, content_type="text/plain; version=0.0.4; charset=utf-8")


@csrf_exempt  # it only reads; a POST gets a plain 405, not a CSRF page
@never_cache
@require_safe
def healthz(request):
    """200 when the database and the broker both answer, 503 otherwise."""
    state = selectors.health()
    body = {"status": "ok" if state["ok"] else "unavailable", **state["checks"]}
    return JsonResponse(body, status=200 if state["ok"] else 503)
