"""Members' API for their daily activities. Every view needs a bearer token."""

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.views import member_required
from apps.common.http import BadRequest, json_view
from apps.engagement.models import Assignment
from apps.engagement.selectors import REFUSALS, assignment_refusal, assignments_of_member
from apps.engagement.services import assignment_complete


def _assignment(assignment: Assignment) -> dict:
    return {
        "id": assignment.pk,
        "day": assignment.day.isoformat(),
        "status": assignment.status,
        "completed_at": assignment.completed_at.isoformat() if assignment.completed_at else None,
        "task": {  # the API's name for the activity, kept for its clients
            "title": assignment.activity.title,
            "kind": assignment.activity.kind,
            "reward": str(assignment.activity.reward),
        },
    }


@require_GET
@json_view
@member_required
def assignments(request):
    """The member's activities for today."""
    today = assignments_of_member(member_id=request.member.pk, day=timezone.localdate())
    return JsonResponse({"assignments": [_assignment(a) for a in today]})


@csrf_exempt  # bearer token, no cookie
@require_POST
@json_view
@member_required
def complete(request, assignment_id: int):
    """Mark one of today's activities done: 202, its reward pending until it matures."""
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
