"""Checking the staged rows against each other and against the members, set-based: duplicates,
members already here, uplines found in the file or among the members, refusals passed down to
the rows below, and each row's depth (uplines above it) for applying uplines first.

It runs as one transaction, so a run killed in it leaves the rows as they were staged.

The referral rules are the member model's (apps/accounts/models.py): a member may have at most
MAX_UPLINE_DEPTH uplines above them, and a chain longer than that counts as a cycle. An import
never moves a member who is already here, so a cycle can only close inside the file."""

from decimal import Decimal

from django.db import connection
from django.db.models import Count, F, Q

from apps.accounts.models import MAX_UPLINE_DEPTH
from apps.imports.models import ImportRow
from apps.imports.services.graph import member_depths, unreached_refuse
from apps.imports.sql import LIVE, MINE, M, R, T, run
from apps.wallets.models import Earning

Status = ImportRow.Status

DUPLICATES = f"""
UPDATE {T} SET {R.status} = %(refused)s, {R.column} = 'phone', {R.value} = {T}.{R.phone},
    {R.reason} = CASE
        WHEN {T}.{R.name} = f.name AND COALESCE({T}.{R.upline}, '') = COALESCE(f.upline, '')
             AND {T}.{R.pending} = f.pending AND {T}.{R.withdrawable} = f.withdrawable
        THEN 'the same as row ' || f.number
        ELSE 'this phone is on row ' || f.number || ' already' END
FROM (
    SELECT r.{R.phone} AS phone, r.{R.number} AS number, r.{R.name} AS name,
           r.{R.upline} AS upline, r.{R.pending} AS pending, r.{R.withdrawable} AS withdrawable
    FROM {T} r JOIN (
        SELECT {R.phone} AS phone, MIN({R.number}) AS number FROM {T}
        WHERE {R.import_run} = %(imp)s AND {R.phone} IS NOT NULL
        GROUP BY {R.phone} HAVING COUNT(*) > 1
    ) d ON r.{R.phone} = d.phone AND r.{R.number} = d.number
    WHERE r.{R.import_run} = %(imp)s
) f
WHERE {MINE} AND {T}.{R.phone} = f.phone AND {T}.{R.number} > f.number
  AND {T}.{R.status} = %(staged)s
"""

# Rows whose phone is a member's already (also used when applying): the same upline as the
# file's makes them unchanged, another refuses them (an import never moves a member). ``why``
# begins the reason.
SAME = f"COALESCE(u.{M.phone}, '') = COALESCE({T}.{R.upline}, '')"
MEMBER_FOUND = f"""
UPDATE {T} SET {R.member_id} = m.{M.pk},
    {R.status} = CASE WHEN {SAME} THEN %(unchanged)s ELSE %(refused)s END,
    {R.column} = CASE WHEN {SAME} THEN '' ELSE 'upline_phone' END,
    {R.value} = CASE WHEN {SAME} THEN '' ELSE COALESCE({T}.{R.upline}, '') END,
    {R.reason} = CASE WHEN {SAME} THEN '' ELSE %(why)s
        || COALESCE('with upline ' || u.{M.phone}, 'with no upline')
        || ': an import never changes a member''s upline' END
FROM {M.table} m LEFT JOIN {M.table} u ON u.{M.pk} = m.{M.referred_by}
WHERE {MINE} AND {T}.{R.status} = %(status)s AND m.{M.phone} = {T}.{R.phone}
"""

# The rows whose upline is no row's phone in the file, but a member's.
BELOW_MEMBERS = f"""
UPDATE {T} SET {R.upline_member_id} = m.{M.pk}
FROM {M.table} m
WHERE {MINE} AND {LIVE} AND {T}.{R.upline} IS NOT NULL AND m.{M.phone} = {T}.{R.upline}
  AND NOT EXISTS (
    SELECT 1 FROM {T} u WHERE u.{R.import_run} = %(imp)s AND u.{R.phone} = {T}.{R.upline}
  )
"""

# Rows whose upline's row was refused (when applying, after a late refusal).
UPLINE_REFUSED = f"""
UPDATE {T} SET {R.status} = %(refused)s, {R.column} = 'upline_phone', {R.value} = {T}.{R.upline},
    {R.reason} = 'its upline (row ' || {T}.{R.upline_row} || ') was refused'
WHERE {MINE} AND {LIVE} AND {T}.{R.upline_row} IS NOT NULL {{also}} AND EXISTS (
    SELECT 1 FROM {T} u WHERE u.{R.import_run} = %(imp)s AND u.{R.number} = {T}.{R.upline_row}
      AND u.{R.status} = %(refused)s
)
"""

ROOTS = f"UPDATE {T} SET {R.depth} = 0 WHERE {MINE} AND {LIVE} AND {T}.{R.upline} IS NULL"

# One level down from the rows at depth ``above``: the live row of a phone is unique (later
# rows with the same phone are refused as duplicates), so the upline's row is found by it.
LEVEL = f"""
UPDATE {T} SET {R.depth} = %(depth)s, {R.upline_row} = u.{R.number}
FROM {T} u
WHERE u.{R.import_run} = %(imp)s AND u.{R.depth} = %(above)s
  AND u.{R.status} IN (%(staged)s, %(unchanged)s)
  AND {MINE} AND {T}.{R.upline} = u.{R.phone} AND {T}.{R.depth} IS NULL AND {LIVE}
"""


def rows_validate(*, import_id: int) -> dict[str, int]:
    """Decide every staged row: to create, unchanged or refused (with why), and its depth. In
    a transaction. Returns the rows by status."""
    p = {"imp": import_id}
    table_analyze()  # freshly staged: plan the joins on real counts
    run(DUPLICATES, p)
    members_found(import_id, status=Status.STAGED, why="already a member, ")
    _openings_differ(import_id)
    table_analyze()  # and again, now that rows found members
    _depths(import_id)
    unreached_refuse(import_id)
    counts = ImportRow.objects.filter(import_run_id=import_id).values("status")
    return {c["status"]: c["n"] for c in counts.annotate(n=Count("id")).order_by()}


def members_found(
    import_id: int, *, status: str, why: str, extra: str = "", params: dict | None = None
) -> None:
    """Rows of ``status`` whose phone is a member's: the same upline makes them unchanged,
    another refuses them. ``extra`` narrows the rows (a chunk when applying)."""
    run(MEMBER_FOUND + extra, {"imp": import_id, "status": status, "why": why, **(params or {})})


def refusals_pass_down(import_id: int, *, also: str = "", params: dict | None = None) -> int:
    """Refuse the rows below a refused row, level after level; how many."""
    sql = UPLINE_REFUSED.format(also=also)
    total = 0
    while changed := run(sql, {"imp": import_id, **(params or {})}):
        total += changed
    return total


def _openings_differ(import_id: int) -> None:
    """A member already here whose opening balance was recorded (by an earlier import) with
    other amounts than this file's is refused: an import never changes a balance."""
    existing = ImportRow.objects.filter(import_run_id=import_id, status=Status.UNCHANGED)
    rows = list(existing.order_by("pk").values_list("pk", "member_id", "pending", "withdrawable"))
    refused = []
    for start in range(0, len(rows), 5000):
        part = rows[start : start + 5000]
        recorded = _openings_recorded([member_id for _, member_id, _, _ in part])
        for pk, member_id, pending, withdrawable in part:
            had = recorded.get(member_id)
            if had is not None and had != (pending, withdrawable):
                column = "pending" if had[0] != pending else "withdrawable"
                refused.append(
                    ImportRow(
                        pk=pk,
                        status=Status.REFUSED,
                        column=column,
                        value=f"{pending if column == 'pending' else withdrawable:.2f}",
                        reason=f"the opening balance is recorded already (pending {had[0]:.2f},"
                        f" withdrawable {had[1]:.2f}): an import never changes a balance",
                    )
                )
    ImportRow.objects.bulk_update(refused, ["status", "column", "value", "reason"], 1000)


def _openings_recorded(member_ids: list[int]) -> dict[int, tuple]:
    """(pending, withdrawable) opening amounts recorded for these members, by member."""
    found: dict[int, list] = {}
    openings = Earning.objects.filter(source_kind=Earning.Source.OPENING, member_id__in=member_ids)
    for member_id, source_id, amount in openings.values_list("member_id", "source_id", "amount"):
        amounts = found.setdefault(member_id, [Decimal("0.00"), Decimal("0.00")])
        amounts[source_id.endswith("-withdrawable")] = amount
    return {member_id: tuple(amounts) for member_id, amounts in found.items()}


def table_analyze() -> None:
    """PostgreSQL's statistics of the staging table, after a bulk change (SQLite plans by its
    indexes alone)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {T}")


def _depths(import_id: int) -> None:
    """Each live row's uplines above it: 0 without one, one more than its upline's otherwise,
    level by level from the roots and from the members the file hangs below. Rows no level
    reaches are refused after (graph.unreached_refuse)."""
    p = {"imp": import_id}
    run(ROOTS, p)
    run(BELOW_MEMBERS, p)
    deepest = _depths_below_members(import_id)
    above = 0
    while above < MAX_UPLINE_DEPTH:
        changed = run(LEVEL, {**p, "depth": above + 1, "above": above})
        above += 1
        if not changed and above > deepest:
            break


def _depths_below_members(import_id: int) -> int:
    """Depths of the rows whose upline is a member outside the file; the deepest given."""
    live = Q(status__in=[Status.STAGED, Status.UNCHANGED])
    below = ImportRow.objects.filter(live, import_run_id=import_id, upline_member_id__isnull=False)
    uplines = set(below.values_list("upline_member_id", flat=True).distinct())
    if not uplines:
        return 0
    depth = member_depths(uplines)
    by_depth: dict[int | None, list[int]] = {}
    for member_id in uplines:
        below_depth = depth.get(member_id)
        by_depth.setdefault(None if below_depth is None else below_depth + 1, []).append(member_id)
    for value, ids in by_depth.items():
        if value is None:
            why = f"the upline's own chain of uplines is longer than {MAX_UPLINE_DEPTH} (a cycle)"
        else:
            why = f"would have more than {MAX_UPLINE_DEPTH} uplines above it"
        for start in range(0, len(ids), 500):
            part = below.filter(upline_member_id__in=ids[start : start + 500])
            if value is not None and value <= MAX_UPLINE_DEPTH:
                part.update(depth=value)
            else:
                part.update(
                    status=Status.REFUSED, column="upline_phone", value=F("upline"), reason=why
                )
    return max((v for v in by_depth if v is not None), default=0)
