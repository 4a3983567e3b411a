"""Importing again: the same file changes nothing; a changed file adds its new rows, refuses
the rows that would move a member or change a recorded balance, and leaves the rest alone."""

import pytest

from apps.accounts.models import Member
from apps.commissions.audit import ledger_audit
from devstack.members_file import members_csv, members_rows
from tests.apps.imports.conftest import csv_bytes, finished, report_rows, snapshot, start

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_same_file_twice_changes_nothing(documents_worker, tmp_path):
    path = members_csv(tmp_path / "members.csv", members_rows(6_000, deep=(150,), seed=2))
    first = finished(start(path))
    assert first.state == "done" and first.created == 6_000 - 49 and first.refused == 49
    before = snapshot()

    again = finished(start(path))

    assert again.pk != first.pk and again.state == "done"
    assert (again.created, again.unchanged, again.refused) == (0, first.created, 49)
    assert again.openings == 0
    assert report_rows(again) == report_rows(first)
    assert snapshot() == before
    assert ledger_audit().ok


def test_a_changed_file_adds_new_rows_and_refuses_changes(documents_worker):
    finished(
        start(
            csv_bytes(
                [
                    "0712100001,Root,,10,5",
                    "0712100002,Kid,0712100001,0,0",
                    "0712100003,Other root,,0,0",
                    "0712100004,Gone from the next file,,1,0",
                ]
            )
        )
    )
    before = snapshot()

    changed = finished(
        start(
            csv_bytes(
                [
                    "0712100001,Root renamed,,10,5",  # unchanged: names are not applied
                    "0712100002,Kid,0712100003,0,0",  # would move the member
                    "0712100003,Other root,,4,0",  # no opening yet: recorded now
                    "0712100005,New,0712100001,2,2",  # new
                    "0712100001,Root,,11,5",  # a duplicate row
                ]
            )
        )
    )

    assert (changed.created, changed.unchanged, changed.refused) == (1, 2, 2)
    assert report_rows(changed) == [
        (
            3,
            "upline_phone",
            "already a member, with upline 254712100001: an import never changes a member's upline",
        ),
        (6, "phone", "this phone is on row 2 already"),
    ]
    after = snapshot()
    assert after["members"] == sorted([*before["members"], ("254712100005", "New", "254712100001")])
    assert Member.objects.get(phone="254712100004")  # not in the file: left alone
    assert ("254712100003", 4, "opening", "pending") in [
        (phone, int(amount), kind, status) for phone, amount, kind, status in after["earnings"]
    ]
    assert ledger_audit().ok

    differs = finished(start(csv_bytes(["0712100001,Root,,10,6"])))
    assert report_rows(differs) == [
        (
            2,
            "withdrawable",
            "the opening balance is recorded already (pending 10.00, withdrawable 5.00): an "
            "import never changes a balance",
        )
    ]
    assert snapshot() == after
