"""Daily assignment (set-based, chunked by member) and completion (credits the reward and
the upline's commissions in one transaction)."""

import logging
import time
from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import Member
from apps.accounts.selectors import member_ids_after
from apps.commissions.models import CommissionLedger
from apps.commissions.services import commissions_record
from apps.engagement.models import Activity, Assignment
from apps.engagement.selectors import assignment_with_activity
from apps.wallets.models import Earning
from apps.wallets.services import earning_record
from apps.wallets.sql import SqlNames

log = logging.getLogger("conveyor.engagement")

_AS, _M, _AC = SqlNames(Assignment), SqlNames(Member), SqlNames(Activity)
ASSIGN = f"""
INSERT INTO {_AS.table} ({_AS.member}, {_AS.activity}, {_AS.day}, {_AS.status})
SELECT m.{_M.pk}, a.{_AC.pk}, %(day)s, %(status)s
FROM {_M.table} m CROSS JOIN {_AC.table} a
WHERE m.{_M.is_active} AND NOT m.{_M.is_staff} AND a.{_AC.is_active}
  AND m.{_M.pk} > %(after)s AND m.{_M.pk} <= %(upto)s
ON CONFLICT ({_AS.member}, {_AS.activity}, {_AS.day}) DO NOTHING
"""


def activities_assign(*, day: date, after_member_id: int, members: int) -> int | None:
    """Give the next ``members`` members (by id, after ``after_member_id``) every active
    activity for ``day``, in one statement; existing assignments are left alone. The last
    member id covered, or None when no member is left."""
    window = member_ids_after(after_member_id=after_member_id, limit=members)
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


def activities_assign_for_day(
    *, day: date, after_member_id: int, members: int, budget_seconds: float
) -> int | None:
    """Chunks of ``members`` members until every one has the day's activities (None), or
    the time budget is spent: then the member id to resume after, in a new task."""
    deadline = time.monotonic() + budget_seconds
    after = after_member_id
    while (upto := activities_assign(day=day, after_member_id=after, members=members)) is not None:
        after = upto
        if time.monotonic() > deadline:
            return after
    return None


@dataclass(frozen=True)
class Completion:
    assignment: Assignment
    earning: Earning


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
        assignment = assignment_with_activity(assignment_id=assignment_id)
        reward = assignment.activity.reward
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
