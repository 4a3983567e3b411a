"""Members' API for their daily tasks and wallet. Every view needs a bearer token."""

from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.views import member_required
from apps.common.http import BadRequest, json_view
from apps.engagement.models import Assignment
from apps.engagement.services import assignment_complete
from apps.wallets.models import Earning, Wallet


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
    assignment = (
        Assignment.objects.filter(pk=assignment_id, member=request.member)
        .select_related("task")
        .first()
    )
    if assignment is None:  # someone else's is as unknown as a missing one
        raise BadRequest("No such assignment.", status=404, code="not_found")
    if assignment.status == Assignment.Status.COMPLETED:
        raise BadRequest("This assignment is completed already.", status=409, code="completed")
    if assignment.day != timezone.localdate():
        raise BadRequest("This assignment was for another day.", status=409, code="not_today")
    done = assignment_complete(assignment_id=assignment.pk, member_id=request.member.pk)
    if done is None:  # completed by a concurrent request a moment ago
        raise BadRequest("This assignment is completed already.", status=409, code="completed")
    earning = Earning.objects.get(
        source_kind=Earning.Source.ASSIGNMENT, source_id=str(assignment.pk)
    )
    body = _assignment(done)
    body["earning"] = {
        "amount": str(earning.amount),
        "status": earning.status,
        "matures_at": earning.matures_at.isoformat(),
    }
    return JsonResponse(body, status=202)


@require_GET
@json_view
@member_required
def wallet(request):
    """The member's balances."""
    found = Wallet.objects.filter(member=request.member).first() or Wallet()
    return JsonResponse(
        {
            "currency": "KES",
            "pending": str(found.pending),
            "withdrawable": str(found.withdrawable),
        }
    )
