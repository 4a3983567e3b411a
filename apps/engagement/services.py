"""Daily assignment (set-based, chunked by member) and completion (credits the reward and
the upline's commissions in one transaction)."""

import logging
import time
from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import Member
from apps.commissions.models import CommissionLedger
from apps.commissions.services import commissions_record
from apps.engagement.models import Assignment
from apps.wallets.models import Earning
from apps.wallets.services import earning_record

log = logging.getLogger("conveyor.engagement")

ASSIGN = """
INSERT INTO engagement_assignment (member_id, task_id, day, status)
SELECT m.id, t.id, %(day)s, %(status)s
FROM accounts_member m CROSS JOIN engagement_task t
WHERE m.is_active AND NOT m.is_staff AND t.is_active AND m.id > %(after)s AND m.id <= %(upto)s
ON CONFLICT (member_id, task_id, day) DO NOTHING
"""


def assignments_create(*, day: date, after_member_id: int, members: int) -> int | None:
    """Give the next ``members`` members (by id, after ``after_member_id``) every active task
    for ``day``, in one statement; existing assignments are left alone. The last member id
    covered, or None when no member is left."""
    ids = Member.objects.filter(pk__gt=after_member_id).order_by("pk").values_list("pk", flat=True)
    window = list(ids[:members])
    if not window:
        return None
    upto = window[-1]
    with transaction.atomic(), connection.cursor() as cursor:
        params = {"day": day, "after": after_member_id, "upto": upto}
        cursor.execute(ASSIGN, {**params, "status": Assignment.Status.ASSIGNED})
        created = cursor.rowcount
    log.info(
        "assignments.created day=%s members=%s..%s rows=%s", day, after_member_id, upto, created
    )
    return upto


def assignments_create_for_day(
    *, day: date, after_member_id: int, members: int, budget_seconds: float
) -> int | None:
    """Chunks of ``members`` members until every one has the day's tasks (None), or the
    time budget is spent: then the member id to resume after, in a new task."""
    deadline = time.monotonic() + budget_seconds
    after = after_member_id
    while (upto := assignments_create(day=day, after_member_id=after, members=members)) is not None:
        after = upto
        if time.monotonic() > deadline:
            return after
    return None


@dataclass(frozen=True)
class Completion:
    assignment: Assignment
    earning: Earning


# Why a member cannot complete an assignment: code -> what they are told.
REFUSALS = {
    "not_found": "No such assignment.",
    "completed": "This assignment is completed already.",
    "not_today": "This assignment was for another day.",
}


def assignment_complete(*, assignment_id: int, member_id: int) -> Completion | None:
    """ASSIGNED -> COMPLETED, with its reward to the member's pending balance and one
    commission row per upline level, all in one transaction. None if the assignment is not
    this member's, not today's, or done already (assignment_refusal says which): then
    nothing changes."""
    now = timezone.now()
    with transaction.atomic():
        done = Assignment.objects.filter(
            pk=assignment_id,
            member_id=member_id,
            day=timezone.localdate(now),
            status=Assignment.Status.ASSIGNED,
        ).update(status=Assignment.Status.COMPLETED, completed_at=now)
        if not done:
            return None
        assignment = Assignment.objects.select_related("task").get(pk=assignment_id)
        reward = assignment.task.reward
        earning = earning_record(
            member_id=member_id,
            amount=reward,
            source_kind=Earning.Source.ASSIGNMENT,
            source_id=assignment.pk,
            at=now,
        )
        commissions_record(
            source_member_id=member_id,
            source_kind=CommissionLedger.Source.ASSIGNMENT,
            source_id=assignment.pk,
            base=reward,
        )
    log.info("assignment.completed id=%s member=%s reward=%s", assignment.pk, member_id, reward)
    return Completion(assignment, earning)


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
