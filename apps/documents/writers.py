"""The formats, each written a chunk of rows at a time in constant memory.

- CSV is UTF-8 with a byte order mark (Excel reads the names right), CRLF line ends, and can be
  appended to: a run that is out of time stops after a chunk, and the next run reopens the work
  file at the saved size and goes on (``resumable``).
- XLSX (openpyxl's write-only mode streams rows to a temporary file) and PDF (ReportLab's
  canvas, a page at a time) are zip and object files that cannot be reopened half-written:
  each is written in one run, from the first row, and is refused above its row limit.
Every text cell goes through cells.cell: a formula cannot be smuggled into a spreadsheet.
"""

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.documents.cells import cell
from apps.documents.files import work_open
from apps.documents.models import Format

XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header


def row_limit(fmt: str) -> int | None:
    """How many rows a file of ``fmt`` may hold; None for no limit."""
    return {Format.XLSX: XLSX_MAX_ROWS, Format.PDF: settings.DOCUMENT_PDF_MAX_ROWS}.get(fmt)


def limit_check(fmt: str, rows: int) -> None:
    limit = row_limit(fmt)
    if limit is not None and rows > limit:
        raise ApplicationError(
            f"{rows} rows are more than a {fmt.upper()} file may hold ({limit}); ask for CSV."
        )


class CsvWriter:
    resumable = True

    def __init__(self, path: Path, columns: Sequence[str], title: str, size: int = 0):
        self.handle = work_open(path, size)
        self.text = io.TextIOWrapper(self.handle, encoding="utf-8", newline="")
        self.csv = csv.writer(self.text, lineterminator="\r\n")
        if size == 0:
            self.text.write("\ufeff")
            self.csv.writerow([cell(c) for c in columns])

    def write(self, rows: Sequence[Sequence]) -> None:
        self.csv.writerows([cell(v) for v in row] for row in rows)

    def position(self) -> int:
        """The bytes on disk so far: where a resumed run starts appending."""
        self.text.flush()
        os.fsync(self.handle.fileno())  # what the saved size counts is on disk
        return self.handle.tell()

    def close(self) -> None:
        self.text.close()


class XlsxWriter:
    resumable = False

    def __init__(self, path: Path, columns: Sequence[str], title: str, size: int = 0):
        from openpyxl import Workbook

        self.path = path
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(title=_sheet_name(title))
        self.sheet.append([cell(c) for c in columns])

    def write(self, rows: Sequence[Sequence]) -> None:
        for row in rows:
            self.sheet.append([cell(v) for v in row])

    def position(self) -> int:
        return 0

    def close(self) -> None:
        self.book.save(self.path)


def _sheet_name(title: str) -> str:
    cleaned = "".join(" " if ch in "[]:*?/\\" else ch for ch in title).strip()
    return (cleaned or "Report")[:31]


class PdfWriter:
    """A plain table, landscape A4: the title and the header on every page, then rows."""

    resumable = False
    FONT, SIZE, LEADING, MARGIN = "Helvetica", 7, 10, 28

    def __init__(self, path: Path, columns: Sequence[str], title: str, size: int = 0):
        from reportlab.lib.pagesizes import A4, landscape
        from reportlab.pdfgen.canvas import Canvas

        self.path, self.columns, self.title = path, [str(c) for c in columns], title
        self.width, self.height = landscape(A4)
        self.canvas = Canvas(str(path), pagesize=(self.width, self.height), invariant=1)
        self.canvas.setTitle(title)
        self.column_width = (self.width - 2 * self.MARGIN) / max(len(self.columns), 1)
        self.page = 0
        self._new_page()

    def _new_page(self) -> None:
        if self.page:
            self.canvas.showPage()
        self.page += 1
        top = self.height - self.MARGIN
        self.canvas.setFont(f"{self.FONT}-Bold", 10)
        self.canvas.drawString(self.MARGIN, top, self.title)
        self.canvas.setFont(self.FONT, self.SIZE)
        self.canvas.drawRightString(self.width - self.MARGIN, top, f"page {self.page}")
        self.y = top - 2 * self.LEADING
        self._line(self.columns, bold=True)

    def _line(self, values: Sequence[str], bold: bool = False) -> None:
        self.canvas.setFont(f"{self.FONT}-Bold" if bold else self.FONT, self.SIZE)
        for i, value in enumerate(values):
            self.canvas.drawString(self.MARGIN + i * self.column_width, self.y, _fit(value))
        self.y -= self.LEADING

    def write(self, rows: Sequence[Sequence]) -> None:
        for row in rows:
            if self.y < self.MARGIN:
                self._new_page()
            self._line([str(cell(v)) for v in row])

    def position(self) -> int:
        return 0

    def close(self) -> None:
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        self.canvas.setFont(self.FONT, self.SIZE)
        self.canvas.drawString(self.MARGIN, self.MARGIN / 2, f"made {stamp}")
        self.canvas.save()


def _fit(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


WRITERS = {Format.CSV: CsvWriter, Format.XLSX: XlsxWriter, Format.PDF: PdfWriter}


def writer_open(fmt: str, path: Path, *, columns: Sequence[str], title: str, size: int = 0):
    """A writer of ``fmt`` on the work file ``path``; a resumable one appends after ``size``
    bytes, the others start over."""
    return WRITERS[fmt](path, columns, title, size)
