"""Applying validated rows a chunk at a time, uplines before the members below them: each
chunk is one transaction that creates its members (INSERT … SELECT from the staging table),
links them to their uplines, records their opening balances as earnings, credits the wallets
with exactly those, marks the rows and moves the import's cursor, so a chunk is applied whole
or not at all.

A chunk is the next rows in (depth, row) order, so a row's upline was created by an earlier
chunk or by this one; its members are inserted a depth at a time, each INSERT finding the
uplines the one before made. A member who appeared since the validation (a purchase) is
decided as the validation would have, and the rows below a row refused so are refused too."""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError
from django.db.models import Q
from django.utils import timezone

from apps.common.errors import ApplicationError, TransientError
from apps.imports.models import ImportRow
from apps.imports.services.validation import members_found, refusals_pass_down
from apps.imports.sql import MINE, E, M, R, T, moment, rows, run, unusable_password
from apps.wallets.balances import wallets_upsert_sql

Status = ImportRow.Status

# The chunk: rows after (depth, row) (d1, n1) up to (d2, n2), inclusive.
CHUNK = f""" AND {T}.{R.depth} BETWEEN %(d1)s AND %(d2)s
  AND ({T}.{R.depth} > %(d1)s OR {T}.{R.number} > %(n1)s)
  AND ({T}.{R.depth} < %(d2)s OR {T}.{R.number} <= %(n2)s)"""

LATE = "became a member during the import, "
CONFLICTS = f"""
SELECT 1 FROM {T} JOIN {M.table} m ON m.{M.phone} = {T}.{R.phone}
WHERE {MINE} AND {T}.{R.status} = %(staged)s{CHUNK}
LIMIT 1
"""

MEMBERS_INSERT = f"""
INSERT INTO {M.table} ({M.password}, {M.is_superuser}, {M.phone}, {M.name}, {M.email},
    {M.referred_by}, {M.is_active}, {M.is_staff}, {M.date_joined})
SELECT {{password}}, %(no)s, {T}.{R.phone}, {T}.{R.name}, '', u.{M.pk}, %(yes)s, %(no)s, %(now)s
FROM {T} LEFT JOIN {M.table} u ON u.{M.phone} = {T}.{R.upline}
WHERE {MINE} AND {T}.{R.status} = %(staged)s{CHUNK} AND {T}.{R.depth} = %(depth)s
ORDER BY {T}.{R.number}
"""

# A new member has no opening balance yet: theirs is recorded if the file gives money.
CREATED = f"""
UPDATE {T} SET {R.status} = %(created)s,
    {R.member_id} = (SELECT m.{M.pk} FROM {M.table} m WHERE m.{M.phone} = {T}.{R.phone}),
    {R.opening} = ({T}.{R.pending} > 0 OR {T}.{R.withdrawable} > 0)
WHERE {MINE} AND {T}.{R.status} = %(staged)s{CHUNK}
"""

UNLINKED = f"""
SELECT {T}.{R.number}, {T}.{R.upline} FROM {T} JOIN {M.table} m ON m.{M.pk} = {T}.{R.member_id}
WHERE {MINE} AND {T}.{R.status} = %(created)s{CHUNK}
  AND {T}.{R.upline} IS NOT NULL AND m.{M.referred_by} IS NULL
LIMIT 1
"""

# A member already here: recorded if the file gives money and none was recorded before.
OPENINGS_MARK = f"""
UPDATE {T} SET {R.opening} = %(yes)s
WHERE {MINE} AND {T}.{R.status} = %(unchanged)s{CHUNK}
  AND ({T}.{R.pending} > 0 OR {T}.{R.withdrawable} > 0)
  AND NOT EXISTS (
    SELECT 1 FROM {E.table} e
    WHERE e.{E.member} = {T}.{R.member_id} AND e.{E.source_kind} = %(opening)s
  )
"""

MARKED = f"{MINE} AND {T}.{R.opening} = %(yes)s{CHUNK}"

EARNINGS_INSERT = f"""
INSERT INTO {E.table} ({E.member}, {E.amount}, {E.source_kind}, {E.source_id}, {E.status},
    {E.created_at}, {E.matures_at}, {E.matured_at})
SELECT {T}.{R.member_id}, {T}.{R.pending}, %(opening)s,
       CAST({T}.{R.member_id} AS TEXT) || '-pending', %(earning_pending)s, %(now)s,
       %(matures)s, NULL
FROM {T} WHERE {MARKED} AND {T}.{R.pending} > 0
UNION ALL
SELECT {T}.{R.member_id}, {T}.{R.withdrawable}, %(opening)s,
       CAST({T}.{R.member_id} AS TEXT) || '-withdrawable', %(earning_matured)s, %(now)s,
       %(now)s, %(now)s
FROM {T} WHERE {MARKED} AND {T}.{R.withdrawable} > 0
"""

WALLETS = wallets_upsert_sql(
    f"SELECT {T}.{R.member_id}, {T}.{R.pending}, {T}.{R.withdrawable}, %(now)s "
    f"FROM {T} WHERE {MARKED}"
)


def chunk_next(import_id: int, after: tuple[int, int], size: int) -> list[tuple[int, int]]:
    """(depth, row) of the next ``size`` live rows after ``after``, in that order."""
    depth, number = after
    live = ImportRow.objects.filter(
        import_run_id=import_id, status__in=[Status.STAGED, Status.UNCHANGED]
    ).filter(Q(depth__gt=depth) | Q(depth=depth, number__gt=number))
    return list(live.order_by("depth", "number").values_list("depth", "number")[:size])


def chunk_apply(
    import_id: int, after: tuple[int, int], rows_in: list[tuple[int, int]], *, late: bool
) -> int:
    """Apply ``rows_in``, the live rows after ``after`` (chunk_next), in the chunk's transaction.
    ``late``: rows were refused since the validation, and some here may hang below one.
    Returns the rows it refused."""
    now = timezone.now()
    last = rows_in[-1]
    p = {
        "imp": import_id,
        "d1": after[0],
        "n1": after[1],
        "d2": last[0],
        "n2": last[1],
        "now": moment(now),
        "matures": moment(now + timedelta(hours=settings.MATURATION_HOURS)),
        "yes": True,
        "no": False,
    }
    refused = ImportRow.objects.filter(import_run_id=import_id, status=Status.REFUSED)
    before = refused.count() if late or rows(CONFLICTS, p) else None
    if before is not None:
        members_found(import_id, status=Status.STAGED, why=LATE, extra=CHUNK, params=p)
        refusals_pass_down(import_id, also=CHUNK, params=p)
    insert = MEMBERS_INSERT.format(password=unusable_password())
    try:
        for depth in sorted({depth for depth, _ in rows_in}):  # uplines first
            run(insert, {**p, "depth": depth})
    except IntegrityError as exc:  # one appeared since the check above: look again
        raise TransientError(f"a member appeared while importing: {exc}") from exc
    run(CREATED, p)
    if missing := rows(UNLINKED, p):
        number, upline = missing[0]
        raise ApplicationError(f"Row {number}: its upline {upline} is no longer a member.")
    run(OPENINGS_MARK, p)
    run(EARNINGS_INSERT, p)
    run(WALLETS, p)
    return 0 if before is None else refused.count() - before
