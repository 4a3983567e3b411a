"""Every kind of bad row through a real documents worker: exactly those rows are in the error
report (row, column, reason), the good rows are members with the right uplines and balances,
and audit_ledger holds."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone
from openpyxl import Workbook

from apps.accounts.models import MAX_UPLINE_DEPTH, Member
from apps.commissions.audit import ledger_audit
from apps.wallets.models import Earning, Wallet
from tests.apps.imports.conftest import csv_bytes, finished, report_rows, start
from tests.support.factories import MemberFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LONG = "N" * 151
LINES = [
    "0712000001,Root,,100.00,50.25",  # 2
    "0712000002,Child before its upline,0712000003,1,0",  # 3
    "254712000003,Mid,+254 712 000 001,0,2.5",  # 4
    "0712-000-004,Dashed,,,",  # 5
    "0712000001,Root,,100.00,50.25",  # 6
    "0712000001,Other,,1,1",  # 7
    "0712000005,Bad places,,1.005,0",  # 8
    "0712000006,Negative,,0,-3",  # 9
    "0712000007,Not money,,abc,0",  # 10
    f"0712000008,{LONG},,0,0",  # 11
    "071200000,Short,,0,0",  # 12
    ",No phone,,0,0",  # 13
    "0712000009,=SUM(A1),,0,0",  # 14
    "0712000010,@cmd,,0,0",  # 15
    "0712000011,Self,0712000011,0,0",  # 16
    "0712000012,Orphan,0799000000,0,0",  # 17
    "0712000013,Below the orphan,0712000012,0,0",  # 18
    "0712000014,Cycle A,0712000015,0,0",  # 19
    "0712000015,Cycle B,0712000014,0,0",  # 20
    "0712000016,Below the cycle,0712000014,0,0",  # 21
    "0712000017,Below a bad balance,0712000005,0,0",  # 22
    "0712000018,Shifted,by a comma,,1,0",  # 23
    "0712000019,Under a member,0712999001,5,0",  # 24
    "0712999002,A member with another upline,0712000001,0,0",  # 25
    "0712999001,A member as they are,,0,0",  # 26
    "",  # 27
    "=0712000020,Formula phone,,0,0",  # 28
    "0712000021,After a blank row,,0,7",  # 29
]
EXPECTED = [
    (6, "phone", "the same as row 2"),
    (7, "phone", "this phone is on row 2 already"),
    (8, "pending", "more than 2 decimal places"),
    (9, "withdrawable", "negative: a balance is 0 or more"),
    (10, "pending", "not an amount in KES (digits and a decimal point, e.g. 1500.50)"),
    (11, "name", "longer than 150 characters (151)"),
    (12, "phone", "not a Kenyan mobile number (e.g. 0712345678 or +254712345678)"),
    (13, "phone", "the phone number is missing"),
    (14, "name", "a formula, not a value: save the sheet with its values"),
    (15, "name", "starts with '@', which a spreadsheet runs as a formula"),
    (16, "upline_phone", "a member cannot be their own upline"),
    (17, "upline_phone", "the upline 254799000000 is neither in the file nor a member"),
    (18, "upline_phone", "its upline (row 17) was refused"),
    (19, "upline_phone", "a referral cycle: rows 19 → 20 → 19"),
    (20, "upline_phone", "a referral cycle: rows 19 → 20 → 19"),
    (21, "upline_phone", "its upline (row 19) was refused"),
    (22, "upline_phone", "its upline (row 8) was refused"),
    (23, "(row)", "6 values for the header's 5 columns: a value with a comma in it needs quotes"),
    (
        25,
        "upline_phone",
        "already a member, with upline 254712999001: an import never changes a member's upline",
    ),
    (28, "phone", "a formula, not a value: save the sheet with its values"),
]


def uplines() -> dict[str, str | None]:
    return dict(Member.objects.values_list("phone", "referred_by__phone"))


def test_each_bad_row_is_in_the_report_and_the_good_rows_are_imported(documents_worker):
    member = MemberFactory(phone="254712999001")
    MemberFactory(phone="254712999002", referred_by=member)
    before = timezone.now()

    imp = finished(start(csv_bytes(LINES)))

    assert imp.state == "done", imp.error
    assert report_rows(imp) == EXPECTED
    assert (imp.total, imp.created, imp.unchanged, imp.refused) == (27, 6, 1, 20)
    assert uplines() == {
        "254712000001": None,
        "254712000002": "254712000003",
        "254712000003": "254712000001",
        "254712000004": None,
        "254712000019": "254712999001",
        "254712000021": None,
        "254712999001": None,
        "254712999002": "254712999001",
    }
    assert Member.objects.get(phone="254712000002").name == "Child before its upline"
    assert not Member.objects.get(phone="254712000001").has_usable_password()
    wallets = dict(Wallet.objects.values_list("member__phone", "pending"))
    assert wallets == {
        "254712000001": Decimal("100.00"),
        "254712000002": Decimal("1.00"),
        "254712000003": Decimal("0.00"),
        "254712000019": Decimal("5.00"),
        "254712000021": Decimal("0.00"),
    }
    assert Wallet.objects.get(member__phone="254712000001").withdrawable == Decimal("50.25")
    pending = Earning.objects.get(member__phone="254712000001", status="pending")
    assert pending.source_kind == "opening" and pending.amount == Decimal("100.00")
    hours = timedelta(hours=settings.MATURATION_HOURS)
    assert before + hours <= pending.matures_at <= timezone.now() + hours
    matured = Earning.objects.get(member__phone="254712000001", status="matured")
    assert matured.amount == Decimal("50.25") and matured.matured_at == matured.matures_at
    assert imp.openings == 5
    assert ledger_audit().ok


def test_a_chain_below_members_stops_at_the_deepest_the_rules_allow(documents_worker):
    upline = None
    for n in range(MAX_UPLINE_DEPTH):  # depths 0 to 99 already here
        upline = MemberFactory(phone=f"2547130{n:05d}", referred_by=upline)
    lines = [
        "0712400001,Depth 100,0713000099,0,0",
        "0712400002,Depth 101,0712400001,0,0",
        "0712400003,Below it,0712400002,0,0",
    ]

    imp = finished(start(csv_bytes(lines)))

    assert imp.created == 1
    assert report_rows(imp) == [
        (
            3,
            "upline_phone",
            f"would have more than {MAX_UPLINE_DEPTH} uplines above it (row 2 "
            f"has {MAX_UPLINE_DEPTH})",
        ),
        (4, "upline_phone", "its upline (row 3) was refused"),
    ]
    deepest = Member.objects.get(phone="254712400001")
    deepest.full_clean()  # the model's own check agrees


def test_an_xlsx_with_numbers_for_phones_and_amounts_imports_the_same(documents_worker):
    book = Workbook()
    sheet = book.active
    sheet.append(["Phone", "Name", "Upline Phone", "Pending", "Withdrawable", "Notes"])
    sheet.append([712700002, "Kid", 254712700001, 12.5, 0, "upline further down"])
    sheet.append([254712700001.0, "Root", None, 1000, 0.75, None])
    sheet.append(["0712700003", "=A2", None, None, None, None])
    sheet.append(["0712700004", "Cents", None, 10.005, None, None])
    out = io.BytesIO()
    book.save(out)

    imp = finished(start(out.getvalue(), "members.xlsx"))

    assert (imp.format, imp.warnings) == ("xlsx", ["Columns ignored: Notes."])
    assert uplines() == {"254712700002": "254712700001", "254712700001": None}
    root = Wallet.objects.get(member__phone="254712700001")
    assert (root.pending, root.withdrawable) == (Decimal("1000.00"), Decimal("0.75"))
    assert report_rows(imp) == [
        (4, "name", "a formula, not a value: save the sheet with its values"),
        (5, "pending", "more than 2 decimal places"),
    ]
    assert ledger_audit().ok


def test_a_loop_through_a_member_already_here_is_refused(documents_worker):
    MemberFactory(phone="254712800001")  # no upline; the file would give it one below itself
    lines = ["0712800001,A member,0712800002,0,0", "0712800002,New,0712800001,0,0"]

    imp = finished(start(csv_bytes(lines)))

    assert report_rows(imp) == [
        (
            2,
            "upline_phone",
            "already a member, with no upline: an import never changes a member's upline",
        ),
        (3, "upline_phone", "its upline (row 2) was refused"),
    ]
    assert uplines() == {"254712800001": None}
