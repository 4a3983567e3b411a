"""What the import's hand-written SQL shares: table and column names from the models (never
typed in), statuses as parameters, and the few spellings PostgreSQL and SQLite differ in."""

from itertools import chain

from django.db import connection

from apps.accounts.models import Member
from apps.imports.models import ImportRow
from apps.wallets.models import Earning
from apps.wallets.sql import SqlNames

R, M, E = SqlNames(ImportRow), SqlNames(Member), SqlNames(Earning)
T = R.table  # the staging table, named in full where a statement refers to its target row
Status = ImportRow.Status

# Every statement's parameters include these: %(staged)s, %(unchanged)s, ... and the earning's.
STATUSES = {s.name.lower(): s.value for s in Status} | {
    "opening": Earning.Source.OPENING,
    "earning_pending": Earning.Status.PENDING,
    "earning_matured": Earning.Status.MATURED,
}
# Rows still in the running: clean so far and not refused.
LIVE = f"({T}.{R.status} IN (%(staged)s, %(unchanged)s))"
MINE = f"{T}.{R.import_run} = %(imp)s"
BATCH = 1000  # rows per SQLite INSERT: a parameter each per column, under its limit


def run(sql: str, params: dict) -> int:
    """Execute one statement with the statuses added; the rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, {**STATUSES, **params})
        return cursor.rowcount


def rows(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, {**STATUSES, **params})
        return cursor.fetchall()


def rows_insert(table: str, columns: list[str], values: list[tuple]) -> None:
    """Insert many rows at once: PostgreSQL's COPY (measured 8 times faster than multi-row
    INSERTs of 1,000 rows), SQLite's multi-row INSERTs (in-process, they are cheap there)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
            return
        one = f"({', '.join(['%s'] * len(columns))})"
        head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        for start in range(0, len(values), BATCH):
            part = values[start : start + BATCH]
            cursor.execute(head + ", ".join([one] * len(part)), list(chain(*part)))


def unusable_password() -> str:
    """An unusable password per row ('!' and random, as make_password(None) makes)."""
    if connection.vendor == "postgresql":
        return "'!' || md5(random()::text)"
    return "'!' || lower(hex(randomblob(20)))"


def moment(value):
    """A datetime as the database stores it (the ORM's adaptation, for raw SQL)."""
    return connection.ops.adapt_datetimefield_value(value)
