"""The run log's pages (staff): recent jobs with their attempts, searchable by task, tag, id
and outcome (/admin/ops/jobs/), and a timeline of one entity or several merged
(/admin/ops/timeline/?tag=payment:5 subscription:9); and their JSON. Bad input is a 400 that
says what is wrong, a Redis away a 503."""

import math
import re

from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.common import redis_client
from apps.common.http import redis_unavailable
from apps.ops import runs
from apps.ops.metrics import OUTCOMES
from apps.ops.views import staff_only

TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_]*:\S{1,200}")
TASK = re.compile(r"[\w.:-]{1,200}")
TASK_ID = re.compile(r"[\w.:@-]{1,200}")
MAX_LIMIT = 200
MAX_TAGS = 10  # entities one timeline merges


class BadInput(ValueError):
    pass


@never_cache
@staff_member_required
def jobs_page(request):
    return _page(request, "ops/jobs.html", "Recent jobs", outcomes=OUTCOMES)


@never_cache
@staff_member_required
def timeline_page(request):
    tag = request.GET.get("tag", "").strip()
    return _page(request, "ops/timeline.html", f"Timeline {tag}".strip(), tag=tag)


@never_cache
@require_GET
@staff_only
def jobs_data(request):
    """``?task=&tag=&id=&outcome=&before=&limit=``: jobs newest first, and the next cursor."""
    query = request.GET
    try:
        search = {
            "task": _match(query, "task", TASK),
            "tag": _match(query, "tag", TAG),
            "task_id": _match(query, "id", TASK_ID),
            "outcome": _choice(query, "outcome"),
            "before": _before(query),
            "limit": _limit(query),
        }
    except BadInput as exc:
        return _bad(str(exc))
    return _answer(runs.jobs_recent, **search)


@never_cache
@require_GET
@staff_only
def timeline_data(request):
    """``?tag=payment:5`` (or several, space-separated): every run of their jobs, oldest first."""
    tags = request.GET.get("tag", "").split()
    if not tags:
        return _bad("tag is required, e.g. payment:5")
    if len(tags) > MAX_TAGS:
        return _bad(f"tag: at most {MAX_TAGS} tags")
    if bad := next((t for t in tags if not TAG.fullmatch(t)), None):
        return _bad(f"tag: {bad[:80]!r} is not a valid tag (kind:id)")
    return _answer(runs.timeline, tags=list(dict.fromkeys(tags)))


def _page(request, template: str, title: str, **context):
    context |= {"title": title, "site_header": "Conveyor", "has_permission": True}
    return render(request, template, context)


def _answer(selector, **kwargs) -> JsonResponse:
    try:
        return JsonResponse(selector(**kwargs))
    except redis_client.REDIS_ERRORS as exc:
        return redis_unavailable(exc)


def _bad(message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": "bad_input", "message": message}}, status=400)


def _match(query, name: str, pattern: re.Pattern) -> str:
    value = query.get(name, "").strip()
    if value and not pattern.fullmatch(value):
        raise BadInput(f"{name}: {value[:80]!r} is not a valid {name}")
    return value


def _choice(query, name: str) -> str:
    value = query.get(name, "").strip()
    if value and value not in OUTCOMES:
        raise BadInput(f"{name}: {value[:80]!r} is not one of {', '.join(OUTCOMES)}")
    return value


def _before(query) -> float | None:
    value = query.get("before", "").strip()
    if not value:
        return None
    try:
        before = float(value)
    except ValueError:
        raise BadInput(f"before: {value[:80]!r} is not a number") from None
    if not math.isfinite(before) or before <= 0:
        raise BadInput("before: a cursor is a positive time in seconds")
    return before


def _limit(query) -> int:
    value = query.get("limit", "").strip() or "50"
    if not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise BadInput(f"limit: a whole number from 1 to {MAX_LIMIT}")
    return int(value)
