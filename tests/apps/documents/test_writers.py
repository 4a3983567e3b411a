"""The formats, read back: CSV (BOM, CRLF), XLSX (by openpyxl) and PDF (by pypdf), each
appended to after the last saved chunk, PDF of any length; text that would run as a formula is
neutralised in every one."""

import csv
import io
import re
from decimal import Decimal

import openpyxl
import pypdf
import pytest

from apps.common.errors import ApplicationError
from apps.documents.cells import cell, neutralise
from apps.documents.pdf import rows_per_page
from apps.documents.writers import limit_check, writer_open

COLUMNS = ("phone", "name", "amount")
ROWS = [
    ("254712345678", '=HYPERLINK("http://x")', Decimal("10.50")),
    ("254700000001", "+1 call me", Decimal("-3.25")),
    ("254700000002", "-2+3", None),
    ("254700000003", "@SUM(A1)", Decimal("0.00")),
    ("254700000004", "\tTabbed", 7),
    ("254700000005", "Wanjiru Kamau", Decimal("1200.00")),
]
NEUTRAL = ['\'=HYPERLINK("http://x")', "'+1 call me", "'-2+3", "'@SUM(A1)", "'\tTabbed"]


@pytest.mark.parametrize("text", ["=1+1", "+254", "-x", "@a", "\tt", "\rr"])
def test_a_formula_start_gets_a_quote(text):
    assert neutralise(text) == "'" + text


def test_numbers_stay_numbers_and_plain_text_stays_plain():
    assert cell(Decimal("-5.00")) == Decimal("-5.00") and cell(3) == 3
    assert cell("Wanjiru") == "Wanjiru" and cell(None) == "" and cell(True) == "yes"


def read_csv(path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith("\ufeff".encode()) and b"\r\n" in raw
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_neutralises_and_resumes_after_the_last_saved_chunk(tmp_path):
    path = tmp_path / "out.csv"
    writer = writer_open("csv", path, columns=COLUMNS, title="t")
    writer.write(ROWS[:3])
    saved = writer.position()
    writer.write(ROWS[3:4])  # written, but its chunk was never saved: a killed run
    writer.close()
    resumed = writer_open("csv", path, columns=COLUMNS, title="t", size=saved)
    resumed.write(ROWS[3:])
    resumed.finish()
    rows = read_csv(path)
    assert rows[0] == list(COLUMNS) and len(rows) == 1 + len(ROWS)
    assert [r[1] for r in rows[1:6]] == NEUTRAL
    assert rows[2][2] == "-3.25" and rows[3][2] == ""  # numbers are not neutralised


def test_xlsx_holds_text_not_formulas_and_resumes_after_the_last_saved_chunk(tmp_path):
    path = tmp_path / "out.xlsx"
    writer = writer_open("xlsx", path, columns=COLUMNS, title="Payments: 2026/11")
    writer.write(ROWS[:2])
    saved = writer.position()
    writer.write(ROWS[2:4])  # never saved: a killed run
    writer.close()
    resumed = writer_open("xlsx", path, columns=COLUMNS, title="Payments: 2026/11", size=saved)
    resumed.write([*ROWS[2:], ("254700000006", "A & B <c> \x01\x0b", Decimal("2.5"))])
    resumed.finish()
    sheet = openpyxl.load_workbook(path, read_only=True).active
    assert sheet.title == "Payments  2026 11"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMNS
    assert [r[1] for r in rows[1:6]] == NEUTRAL
    assert rows[1][2] == 10.5 and rows[2][2] == -3.25  # numbers, not text
    assert len(rows) == 1 + len(ROWS) + 1 and rows[-1][1] == "A & B <c> "  # XML-safe
    cells = list(openpyxl.load_workbook(path).active.iter_rows(min_row=2))
    assert all(row[1].data_type == "s" for row in cells)  # strings, none a formula


def test_pdf_has_the_title_header_and_rows_on_every_page_and_resumes(tmp_path):
    path = tmp_path / "out.pdf"
    many = [(f"2547{i:08d}", f"Member {i} (Nairobi) \\ 50% ÷ “quoted”", i) for i in range(130)]
    writer = writer_open("pdf", path, columns=COLUMNS, title="Payments (November)")
    writer.write(ROWS + many[:40])
    saved = writer.position()
    writer.write(many[40:60])  # never saved: a killed run
    writer.close()
    resumed = writer_open("pdf", path, columns=COLUMNS, title="Payments (November)", size=saved)
    resumed.write(many[40:])
    resumed.finish()
    assert not path.with_name("out.pdf.rows").exists()

    reader = pypdf.PdfReader(path)
    rows = 1 + len(ROWS) + len(many)
    assert len(reader.pages) == -(-(rows - 1) // rows_per_page())
    assert reader.metadata.title == "Payments (November)"
    texts = [page.extract_text() for page in reader.pages]
    for number, text in enumerate(texts, start=1):
        assert "Payments (November)" in text and "phone" in text
        assert f"page {number} of {len(texts)}" in text
    whole = "\n".join(texts)
    assert "Wanjiru Kamau" in texts[0] and "'=HYPERLINK" in texts[0]  # neutralised
    assert "Member 7 (Nairobi) \\ 50% ÷ “quoted”" in whole  # escaped, in WinAnsi
    found = [int(n) for n in re.findall(r"Member (\d+) ", whole)]
    assert found == list(range(130))  # each row once, in order, across the resume
    assert "made " in texts[-1]


def test_an_empty_pdf_is_one_page_with_its_header(tmp_path):
    path = tmp_path / "empty.pdf"
    writer_open("pdf", path, columns=COLUMNS, title="Nothing").finish()
    (page,) = pypdf.PdfReader(path).pages
    assert "Nothing" in page.extract_text() and "page 1 of 1" in page.extract_text()


def test_only_xlsx_has_a_row_limit():
    limit_check("pdf", 10_000_000)
    limit_check("csv", 10_000_000)
    limit_check("xlsx", 1_048_575)
    with pytest.raises(ApplicationError, match="ask for CSV"):
        limit_check("xlsx", 1_048_576)
