"""Undo: the members an import created go, with their opening balances and wallets, and the
openings it recorded for members already here are taken back, in one transaction; refused,
changing nothing, once any member it created has had other activity."""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.commissions.audit import ledger_audit
from apps.common.errors import ApplicationError
from apps.engagement.models import Assignment
from apps.engagement.services import activities_assign
from apps.imports.models import ImportRow
from apps.imports.services import import_resume, import_undo
from apps.payments.models import Payment
from apps.wallets.services import earning_record
from tests.apps.imports.conftest import csv_bytes, finished, snapshot, start
from tests.support.factories import ActivityFactory, MemberFactory, PackageFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LINES = [
    "0712200001,Root,,10,5",
    "0712200002,Kid,0712200001,1.50,0",
    "0712200003,Under a member,0712299001,0,3",
    "0712299001,A member already,,7,0",  # unchanged; its opening recorded by this import
    "0712200009,Refused,0799999999,1,1",
]


@pytest.fixture
def imported(documents_worker):
    MemberFactory(phone="254712299001")
    before = snapshot()
    imp = finished(start(csv_bytes(LINES)))
    assert (imp.created, imp.unchanged, imp.refused, imp.openings) == (3, 1, 1, 4)
    return imp, before


def test_undo_removes_what_the_import_made_and_nothing_else(imported):
    imp, before = imported
    assert snapshot() != before

    undone = import_undo(import_id=imp.pk)

    assert undone.state == "undone" and undone.undone_at is not None
    assert snapshot() == before  # the member already here is back as it was
    assert ledger_audit().ok
    rows = dict(ImportRow.objects.filter(import_run=imp).values_list("number", "status"))
    assert rows == {2: "undone", 3: "undone", 4: "undone", 5: "unchanged", 6: "refused"}
    with pytest.raises(ApplicationError, match="was undone already"):
        import_undo(import_id=imp.pk)
    with pytest.raises(ApplicationError, match="nothing to resume"):
        import_resume(import_id=imp.pk)
    again = finished(start(csv_bytes(LINES)))  # the file may be imported again afterwards
    assert (again.created, again.unchanged) == (3, 1)
    assert ledger_audit().ok


@pytest.mark.parametrize(
    ("activity", "named"),
    [
        ("payment", "payments"),
        ("referral", "referrals not from this import"),
        ("earning", "earnings other than this import's opening balances"),
    ],
)
def test_undo_is_refused_once_a_member_it_created_has_done_anything(imported, activity, named):
    imp, _ = imported
    kid = ImportRow.objects.get(import_run=imp, number=3).member_id
    if activity == "payment":
        Payment.objects.create(
            package=PackageFactory(),
            phone="254712200002",
            amount=Decimal("50"),
            reference="HSUNDO1",
            status="paid",
            member_id=kid,
        )
    elif activity == "referral":
        MemberFactory(phone="254712288001", referred_by_id=kid)
    else:
        earning_record(
            member_id=kid,
            amount=Decimal("2.00"),
            source_kind="assignment",
            source_id="undo-test",
            at=timezone.now(),
        )
    kept = snapshot()

    with pytest.raises(ApplicationError) as refused:
        import_undo(import_id=imp.pk)

    assert named in str(refused.value) and "254712200002" in str(refused.value)
    assert "Nothing was changed" in str(refused.value)
    assert snapshot() == kept
    imp.refresh_from_db()
    assert imp.state == "done"


def test_the_days_activities_handed_out_go_with_the_members_unless_one_was_completed(imported):
    imp, before = imported
    ActivityFactory()
    activities_assign(day=timezone.localdate(), after_member_id=0, members=100)  # 00:05's run
    kid = ImportRow.objects.get(import_run=imp, number=3).member_id
    assert Assignment.objects.count() == 4  # the three it created, and the member already here
    Assignment.objects.filter(member_id=kid).update(status=Assignment.Status.COMPLETED)

    with pytest.raises(ApplicationError, match="completed daily activities"):
        import_undo(import_id=imp.pk)

    assert Assignment.objects.count() == 4
    Assignment.objects.filter(member_id=kid).update(status=Assignment.Status.ASSIGNED)
    import_undo(import_id=imp.pk)
    assert snapshot() == before
    assert list(Assignment.objects.values_list("member__phone", flat=True)) == ["254712299001"]
