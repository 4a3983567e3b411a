"""Database helpers the services share."""

from contextlib import AbstractContextManager, nullcontext

from django.db import connection, transaction


def savepoint_if_nested() -> AbstractContextManager:
    """A savepoint inside a transaction, nothing outside one: a single statement in autocommit
    is atomic by itself (no BEGIN and COMMIT to send), and inside a transaction the savepoint
    keeps that statement's IntegrityError from breaking the caller's."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


def first_match(queryset):
    """The row of a lookup by a unique key, or None: without the ORDER BY that first() adds."""
    return next(iter(queryset.order_by()[:1]), None)
