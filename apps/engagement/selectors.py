"""Reads of the engagement domain."""

from datetime import date

from django.db.models import QuerySet
from django.utils import timezone

from apps.engagement.models import Assignment

# Why a member cannot complete an assignment: code -> what they are told.
REFUSALS = {
    "not_found": "No such assignment.",
    "completed": "This assignment is completed already.",
    "not_today": "This assignment was for another day.",
}


def assignments_of_member(*, member_id: int, day: date) -> QuerySet[Assignment]:
    """The member's assignments for ``day`` with their activities, oldest first."""
    return (
        Assignment.objects.filter(member_id=member_id, day=day)
        .select_related("activity")
        .order_by("pk")
    )


def assignment_with_activity(*, assignment_id: int) -> Assignment:
    """One assignment, its activity loaded with it."""
    return Assignment.objects.select_related("activity").get(pk=assignment_id)


def assignment_refusal(*, assignment_id: int, member_id: int) -> str | None:
    """Why the member cannot complete this assignment now (a key of REFUSALS), or None.
    Someone else's assignment is as unknown as a missing one."""
    row = (
        Assignment.objects.filter(pk=assignment_id, member_id=member_id)
        .values("status", "day")
        .first()
    )
    if row is None:
        return "not_found"
    if row["status"] == Assignment.Status.COMPLETED:
        return "completed"
    if row["day"] != timezone.localdate():
        return "not_today"
    return None
