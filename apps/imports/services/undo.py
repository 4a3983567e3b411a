"""Undoing an import, in one transaction: the members it created go, with their opening
balances and wallets, and the opening balances it recorded for members already here are taken
back out of their wallets. Refused, changing nothing, if any member it created has had anything
else since: a payment, a ledger row, a referral not from this import, a notice — any row
anywhere that points at the member (found from the model's relations, so a table added later
counts too). The daily activities handed out at 00:05 are the system's doing, not the
member's: they go with the member, unless one was completed."""

from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import Member
from apps.common.errors import ApplicationError
from apps.engagement.models import Assignment
from apps.imports.models import Import, ImportRow
from apps.imports.services.pruning import unpruned_check
from apps.imports.sql import MINE, E, R, T, moment, run
from apps.wallets.balances import wallets_upsert_sql
from apps.wallets.models import Earning, Wallet

Status = ImportRow.Status

# What the import's own rows account for: checked apart, not as "other activity".
OWN = {
    (Wallet, "member_id"),
    (Earning, "member_id"),
    (Member, "referred_by_id"),
    (Assignment, "member_id"),
}

GIVE_BACK = wallets_upsert_sql(
    f"""SELECT e.{E.member},
        -SUM(CASE WHEN e.{E.status} = %(earning_pending)s THEN e.{E.amount} ELSE 0 END),
        -SUM(CASE WHEN e.{E.status} = %(earning_matured)s THEN e.{E.amount} ELSE 0 END),
        %(now)s
    FROM {E.table} e JOIN {T} ON {T}.{R.member_id} = e.{E.member}
    WHERE {MINE} AND {T}.{R.opening} = %(yes)s AND {T}.{R.status} = %(unchanged)s
      AND e.{E.source_kind} = %(opening)s
    GROUP BY e.{E.member}"""
)


def import_undo(*, import_id: int) -> Import:
    """Remove what the import made; ApplicationError, with why, if it may not be undone."""
    with transaction.atomic():
        imp = Import.objects.select_for_update().filter(pk=import_id).first()
        if imp is None:
            raise ApplicationError(f"There is no import {import_id}.")
        if imp.state == Import.State.UNDONE:
            raise ApplicationError(f"Import {import_id} was undone already.")
        unpruned_check(imp, "undone")
        if imp.state in Import.ACTIVE:
            raise ApplicationError(
                f"Import {import_id} is {imp.state}: wait for it to finish (or fail) first."
            )
        rows = ImportRow.objects.filter(import_run=imp)
        created = rows.filter(status=Status.CREATED).values("member_id")
        _activity_check(imp, created)
        run(GIVE_BACK, {"imp": imp.pk, "now": moment(timezone.now()), "yes": True})
        opened = rows.filter(opening=True).values("member_id")
        Earning.objects.filter(source_kind=Earning.Source.OPENING, member_id__in=opened).delete()
        Wallet.objects.filter(member_id__in=created).delete()
        Assignment.objects.filter(member_id__in=created).delete()  # none completed: checked
        # A wallet is made when money first arrives: one left at zero goes as well.
        Wallet.objects.filter(member_id__in=opened, pending=0, withdrawable=0).delete()
        _members_delete(imp.pk)
        rows.filter(status=Status.CREATED).update(status=Status.UNDONE)
        rows.filter(opening=True).update(opening=False)
        imp.state, imp.undone_at = Import.State.UNDONE, timezone.now()
        imp.save(update_fields=["state", "undone_at", "updated_at"])
    return imp


def _activity_check(imp: Import, created) -> None:
    opened = ImportRow.objects.filter(import_run=imp, opening=True).values("member_id")
    checks = [
        (
            str(model._meta.verbose_name_plural),
            model.objects.filter(**{f"{attname}__in": created}),
            attname,
        )
        for model, attname in _relations()
        if (model, attname) not in OWN
    ]
    checks += [
        (
            "earnings other than this import's opening balances",
            Earning.objects.filter(member_id__in=created).exclude(
                source_kind=Earning.Source.OPENING, member_id__in=opened
            ),
            "member_id",
        ),
        (
            "completed daily activities",
            Assignment.objects.filter(member_id__in=created, status=Assignment.Status.COMPLETED),
            "member_id",
        ),
        (
            "referrals not from this import",
            Member.objects.filter(referred_by__in=created).exclude(pk__in=created),
            "referred_by_id",
        ),
    ]
    found = [(what, rows, column) for what, rows, column in checks if rows.exists()]
    if found:
        _what, rows, column = found[0]
        member_id = rows.order_by().values_list(column, flat=True)[:1].get()
        raise ApplicationError(
            f"Import {imp.pk} cannot be undone: members it created have had other activity "
            f"since ({', '.join(what for what, _r, _c in found)}), e.g. "
            f"{Member.objects.get(pk=member_id).phone}. Nothing was changed."
        )


def _relations():
    """(model, column) of every row anywhere that points at a member."""
    for rel in Member._meta.get_fields(include_hidden=True):
        if rel.auto_created and not rel.concrete and rel.is_relation:
            yield rel.related_model, rel.field.attname


def _members_delete(import_id: int) -> None:
    """One statement: the members reference each other (uplines), which a row-by-row delete
    would trip over; the constraint is checked at commit, when none is left."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {Member._meta.db_table} WHERE {Member._meta.pk.column} IN ("
            f"SELECT {R.member_id} FROM {T} WHERE {R.import_run} = %s AND {R.status} = %s)",
            [import_id, Status.CREATED],
        )
