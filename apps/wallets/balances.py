"""Wallet balances moved by SQL, so that a balance and the ledger rows that explain it
change in one statement: never read-modify-write in Python. ``wallet_add`` credits one
member (a completion); the ledger sweep (ledger_sweep.py) credits many with the same upsert.
"""

from decimal import Decimal

from django.db import connection
from django.utils import timezone

from apps.wallets.models import Wallet
from apps.wallets.sql import SqlNames

_W = SqlNames(Wallet)


def wallets_upsert_sql(rows: str) -> str:
    """Add ``rows`` (a VALUES list or a SELECT of member, pending, withdrawable, updated_at)
    to the wallets, creating those missing. Rounded to the cent in SQL: SQLite adds
    decimals as floats."""
    return f"""
INSERT INTO {_W.table} ({_W.member}, {_W.pending}, {_W.withdrawable}, {_W.updated_at})
{rows}
ON CONFLICT ({_W.member}) DO UPDATE SET
    {_W.pending} = ROUND({_W.table}.{_W.pending} + excluded.{_W.pending}, 2),
    {_W.withdrawable} = ROUND({_W.table}.{_W.withdrawable} + excluded.{_W.withdrawable}, 2),
    {_W.updated_at} = excluded.{_W.updated_at}
"""


def wallet_add(*, member_id: int, pending: Decimal = Decimal(0), withdrawable=Decimal(0)) -> None:
    """Add to a member's balances (negative to take away), creating the wallet if needed."""
    with connection.cursor() as cursor:
        cursor.execute(
            wallets_upsert_sql("VALUES (%s, %s, %s, %s)"),
            [member_id, pending, withdrawable, timezone.now()],
        )
