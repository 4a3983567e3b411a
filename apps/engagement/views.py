"""Members' API for their daily tasks. Every view needs a bearer token."""

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.views import member_required
from apps.common.http import BadRequest, json_view
from apps.engagement.models import Assignment
from apps.engagement.services import REFUSALS, assignment_complete, assignment_refusal


def _assignment(assignment: Assignment) -> dict:
    return {
        "id": assignment.pk,
        "day": assignment.day.isoformat(),
        "status": assignment.status,
        "completed_at": assignment.completed_at.isoformat() if assignment.completed_at else None,
        "task": {
            "title": assignment.task.title,
            "kind": assignment.task.kind,
            "reward": str(assignment.task.reward),
        },
    }


@require_GET
@json_view
@member_required
def assignments(request):
    """The member's tasks for today."""
    today = Assignment.objects.filter(member=request.member, day=timezone.localdate())
    return JsonResponse(
        {"assignments": [_assignment(a) for a in today.select_related("task").order_by("pk")]}
    )


@csrf_exempt  # bearer token, no cookie
@require_POST
@json_view
@member_required
def complete(request, assignment_id: int):
    """Mark one of today's tasks done: 202, its reward pending until it matures."""
    done = assignment_complete(assignment_id=assignment_id, member_id=request.member.pk)
    if done is None:
        # "completed" also covers a concurrent request that completed it a moment ago.
        code = assignment_refusal(assignment_id=assignment_id, member_id=request.member.pk)
        code = code or "completed"
        status = 404 if code == "not_found" else 409
        raise BadRequest(REFUSALS[code], status=status, code=code)
    body = _assignment(done.assignment)
    body["earning"] = {
        "amount": str(done.earning.amount),
        "status": done.earning.status,
        "matures_at": done.earning.matures_at.isoformat(),
    }
    return JsonResponse(body, status=202)
