"""Files an import refuses whole, before anything is stored or queued, each with what is wrong
and how to save it right; and the shapes of a good file it takes (BOM, CRLF, semicolons,
XLSX, extra columns with a warning)."""

import io
import zipfile

import pytest
from django.core.files.storage import default_storage
from openpyxl import Workbook

from apps.accounts.models import Member
from apps.common.errors import ApplicationError
from apps.imports.models import Import
from apps.imports.services import import_start
from tests.apps.imports.conftest import csv_bytes

pytestmark = pytest.mark.django_db

GOOD = ["0712345678,Amina,,10.50,0"]


def refused(data: bytes, name: str = "members.csv") -> str:
    with pytest.raises(ApplicationError) as caught:
        import_start(handle=io.BytesIO(data), filename=name, send=False)
    assert not Import.objects.exists() and not Member.objects.exists()
    assert not default_storage.exists("imports") or not any(default_storage.listdir("imports"))
    return str(caught.value)


def xlsx(rows: list[list], sheets: int = 1) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    for n in range(1, sheets):
        book.create_sheet(f"Other {n}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf\r\n  \r\n", "The file is empty."),
        (csv_bytes([]), "has a header but no rows of members"),
        (b"0712345678,Amina,,10,0\n", "The first row must be the header"),
        (b"\n0712345678,Amina,,10,0\n", "it is blank"),
        (
            csv_bytes(GOOD, header="phone,name,pending,withdrawable"),
            "lacks the column upline_phone",
        ),
        (csv_bytes(GOOD, header="phone,name"), "lacks the columns upline_phone, pending"),
        (
            csv_bytes(GOOD, header="phone,name,upline_phone,pending,withdrawable,Phone"),
            "names phone twice (columns A and F)",
        ),
        (
            csv_bytes(["0712345678,Zoë,,10,0"]).replace("ë".encode(), "ë".encode("latin-1")),
            'not UTF-8 (byte 0xEB on line 2, byte 59 of the file): save it as "CSV UTF-8',
        ),
        (
            "phone,name\n".encode("utf-16"),
            'UTF-16 text, not UTF-8: save it as "CSV UTF-8',
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "old Excel workbook (.xls)"),
        (b"%PDF-1.4\n\x00\x01binary", "is not text (it holds NUL bytes)"),
        (b'phone,name,upline_phone,pending,withdrawable\n"0712345678,Amina\n', "cannot be read"),
    ],
    ids=[
        "empty",
        "only-bom-and-blank-lines",
        "header-only",
        "no-header",
        "blank-first-row",
        "missing-column",
        "missing-columns",
        "column-twice",
        "latin-1",
        "utf-16",
        "xls",
        "binary",
        "unclosed-quote",
    ],
)
def test_a_bad_file_is_refused_whole_with_its_message(data, says):
    assert says in refused(data)


def test_a_zip_that_is_not_a_workbook_is_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("members.csv", "phone\n0712345678\n")
    assert "a zip archive, not an XLSX workbook" in refused(out.getvalue(), "members.xlsx")


def test_a_damaged_workbook_is_refused():
    assert "damaged" in refused(xlsx([["phone"]])[:300], "members.xlsx")


def test_a_workbook_without_our_header_is_refused():
    says = refused(xlsx([["Phone number", "Full name"], ["0712345678", "Amina"]]), "m.xlsx")
    assert "The first row must be the header" in says


def test_a_file_over_the_limit_is_refused_before_it_is_read(settings):
    settings.IMPORT_MAX_BYTES = 1000
    assert refused(csv_bytes(GOOD * 100)) == (
        "The file is 2,645 bytes; an import takes at most 1,000 bytes."
    )


def test_a_file_of_more_rows_than_allowed_is_refused(settings):
    settings.IMPORT_MAX_ROWS = 3
    assert "at most 3: split it" in refused(csv_bytes(GOOD * 4))


def test_bom_crlf_semicolons_and_extra_columns_are_taken_with_a_warning():
    data = "\ufeffPhone;Name;Upline Phone;Pending;Withdrawable;Email\r\n".encode()
    data += b"0712 345 678;Amina;;10.50;0;a@example.com\r\n"
    imp, new = import_start(handle=io.BytesIO(data), filename="m.txt", send=False)
    assert new and (imp.format, imp.delimiter, imp.total) == ("csv", ";", 1)
    assert imp.columns == {
        "phone": 0,
        "name": 1,
        "upline_phone": 2,
        "pending": 3,
        "withdrawable": 4,
    }
    assert imp.warnings == ["Columns ignored: Email."]


def test_an_xlsx_is_told_by_its_content_not_its_name():
    data = xlsx([["phone", "name", "upline_phone", "pending", "withdrawable"], [712345678, "A"]])
    imp, _ = import_start(handle=io.BytesIO(data), filename="members.csv", send=False)
    assert imp.format == "xlsx" and imp.total == 1


def test_a_workbook_of_several_sheets_reads_the_first_with_a_warning():
    header = ["phone", "name", "upline_phone", "pending", "withdrawable"]
    imp, _ = import_start(
        handle=io.BytesIO(xlsx([header, ["0712345678"]], sheets=2)), filename="m.xlsx", send=False
    )
    assert imp.warnings == ['Only the first sheet ("Sheet") is read.']


def test_the_same_unfinished_file_is_the_same_import():
    first, new = import_start(handle=io.BytesIO(csv_bytes(GOOD)), filename="a.csv", send=False)
    again, again_new = import_start(
        handle=io.BytesIO(csv_bytes(GOOD)), filename="b.csv", send=False
    )
    assert new and not again_new and again.pk == first.pk
