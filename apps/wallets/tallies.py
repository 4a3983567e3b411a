"""What a sweep run credited each member, for its digest, in two steps: each chunk writes
one SweepChunk row (every member's rows and total, as JSON) in the chunk's own statement,
and the digest folds those rows into one SweepCredit row per member. One row per chunk
instead of one per member keeps the sweep near its speed without a tally; the folding is
the digest task's work, on the notifications queue.
"""

from django.db import connection

from apps.wallets.models import SweepChunk, SweepCredit
from apps.wallets.sql import SqlNames

# The SQL takes names from the models and every value as a parameter (noqa: S608 below).
_K, _S = SqlNames(SweepChunk), SqlNames(SweepCredit)

# A list of [member id, rows, total] of a (member_id, rows, total) SELECT.
_AGGREGATE = {
    "postgresql": "jsonb_agg(jsonb_build_array(member_id, rows, total) ORDER BY member_id)",
    "sqlite": "json_group_array(json_array(member_id, rows, total))",
}

# The [member id, rows, total] elements of chunk %(chunk)s as rows.
_ELEMENTS = {
    "postgresql": f"""
        SELECT (e ->> 0)::bigint AS member_id, (e ->> 1)::integer AS rows,
               (e ->> 2)::numeric AS total
        FROM {_K.table} k, jsonb_array_elements(k.{_K.credits}) AS e WHERE k.{_K.pk} = %(chunk)s
    """,
    "sqlite": f"""
        SELECT json_extract(e.value, '$[0]') AS member_id, json_extract(e.value, '$[1]') AS rows,
               json_extract(e.value, '$[2]') AS total
        FROM {_K.table} k, json_each(k.{_K.credits}) AS e WHERE k.{_K.pk} = %(chunk)s
    """,
}


def chunk_tally_sql(summed: str, *, vendor: str) -> str:
    """The INSERT of one SweepChunk row for ``summed`` (a SELECT of member_id, rows, total
    per member), unless it is empty; takes %(sweep)s, %(run)s and %(now)s."""
    aggregate = _AGGREGATE[vendor]
    return f"""
INSERT INTO {_K.table} ({_K.sweep}, {_K.run}, {_K.created_at}, {_K.credits})
SELECT %(sweep)s, %(run)s, %(now)s, credits FROM (
    SELECT COUNT(*) AS members, {aggregate} AS credits FROM {summed} AS summed
) AS tally WHERE members > 0
"""


def chunk_fold(*, chunk: SweepChunk) -> None:
    """Add ``chunk``'s credits to its run's open SweepCredit rows (one not yet told per
    member), opening those missing. Members in order, as the digest locks them."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
INSERT INTO {_S.table} ({_S.sweep}, {_S.run}, {_S.member}, {_S.rows}, {_S.total}, {_S.created_at})
SELECT %(sweep)s, %(run)s, member_id, rows, total, %(at)s
FROM ({_ELEMENTS[connection.vendor]}) AS credits WHERE true ORDER BY member_id
ON CONFLICT ({_S.sweep}, {_S.run}, {_S.member}) WHERE {_S.notified_at} IS NULL DO UPDATE SET
    {_S.rows} = {_S.table}.{_S.rows} + excluded.{_S.rows},
    {_S.total} = ROUND({_S.table}.{_S.total} + excluded.{_S.total}, 2)
""",
            {"chunk": chunk.pk, "sweep": chunk.sweep, "run": chunk.run, "at": chunk.created_at},
        )
