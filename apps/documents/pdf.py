"""A tabular PDF of any length in constant memory, written by us as XLSX's sheet is.

ReportLab's canvas keeps every page until the file is saved, so a report's PDF could not
grow with its rows. Here the rows are appended to a work file a line each (resumable like
CSV's), and the PDF is made from it at the end in two passes: one measures the columns, the
other writes each page's content and page object as soon as it is laid out. Only the
objects' byte offsets (two per page) are held, for the cross-reference table.

The fonts are PDF's standard Helvetica and Helvetica-Bold in WinAnsiEncoding, so nothing is
embedded; a character outside Windows-1252 prints as "?" (as with ReportLab's standard fonts).
A column is as wide as its longest cell (at most CELL_CHARS); when they do not fit across the
page, the widest are cut to the same width, with an ellipsis, until they do.
"""

import itertools
import zlib
from collections.abc import Sequence
from typing import BinaryIO

WIDTH, HEIGHT = 841.89, 595.28  # A4, landscape, in points
MARGIN, LEADING, SIZE, TITLE_SIZE, GAP = 28, 10, 7, 10, 6
CHAR = 0.556 * SIZE  # Helvetica's figures' advance; most lower case is narrower
CELL_CHARS = 40  # a cell's text is cut to this many characters when it is written
ELLIPSIS = b"\x85"  # "…" in Windows-1252
FIRST_PAGE_OBJECT = 6  # 1 catalog, 2 page tree, 3 and 4 fonts, 5 document info

FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding >>"
STREAM = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream"
PAGE = (
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] "
    b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>"
)


def row_line(values: Sequence[str]) -> bytes:
    """One row as the work file holds it: its cells in Windows-1252, each on one line and cut
    to CELL_CHARS, tab-separated."""
    return b"\t".join(_cut(_plain(value), CELL_CHARS) for value in values) + b"\n"


def rows_per_page() -> int:
    top = HEIGHT - MARGIN - 2 * LEADING  # the column header's line; the rows follow it
    return int((top - LEADING - MARGIN) // LEADING) + 1


def pdf_write(
    out: BinaryIO, rows: BinaryIO, *, title: str, columns: Sequence[str], footer: str
) -> None:
    """The PDF of the work file ``rows`` (row_line's, in order) into ``out``: the title, the
    page number and the column header on every page, ``footer`` under the last."""
    header = row_line([str(c) for c in columns])
    count, widths = _measure(rows, header)
    caps = _caps(widths, int((WIDTH - 2 * MARGIN - GAP * (len(widths) - 1)) / CHAR))
    xs = list(itertools.accumulate((cap * CHAR + GAP for cap in caps[:-1]), initial=MARGIN))
    offsets: dict[int, int] = {}

    def put(number: int, body: bytes) -> None:
        offsets[number] = out.tell()
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")

    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    put(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    put(3, FONT % b"Helvetica")
    put(4, FONT % b"Helvetica-Bold")
    put(5, b"<< /Title (%s) /Producer (Conveyor) >>" % _escaped(_plain(title)))
    per_page = rows_per_page()
    pages = max(1, -(-count // per_page))
    rows.seek(0)
    for index in range(1, pages + 1):
        lines = [header, *itertools.islice(rows, per_page)]
        content = _page(title, f"page {index} of {pages}", lines, xs, caps)
        if index == pages:
            content += b"\nBT /F1 %d Tf %s ET" % (SIZE, _at(MARGIN, MARGIN / 2, _plain(footer)))
        stream = zlib.compress(content)
        number = FIRST_PAGE_OBJECT + 2 * (index - 1)
        put(number, STREAM % (len(stream), stream))
        put(number + 1, PAGE % (WIDTH, HEIGHT, number))
    kids = b" ".join(b"%d 0 R" % (FIRST_PAGE_OBJECT + 2 * i + 1) for i in range(pages))
    put(2, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages))
    _trailer(out, offsets)


def _measure(rows: BinaryIO, header: bytes) -> tuple[int, list[int]]:
    """How many rows, and each column's longest cell (the header's included)."""
    widths = [len(cell) for cell in header.rstrip(b"\n").split(b"\t")]
    count = 0
    rows.seek(0)
    for line in rows:
        count += 1
        for column, cell in enumerate(line.rstrip(b"\n").split(b"\t")[: len(widths)]):
            if len(cell) > widths[column]:
                widths[column] = len(cell)
    return count, widths


def _caps(widths: list[int], room: int) -> list[int]:
    """Each column's characters: its widest cell's, the widest cut level until all fit."""
    caps = list(widths)
    while sum(caps) > room and (widest := max(caps)) > 1:
        caps = [min(cap, widest - 1) for cap in caps]
    return caps


def _page(title: str, number: str, lines: list[bytes], xs: list[float], caps: list[int]):
    top = HEIGHT - MARGIN
    parts = [
        b"BT /F2 %d Tf" % TITLE_SIZE,
        _at(MARGIN, top, _plain(title)),
        b"/F1 %d Tf" % SIZE,
        _at(WIDTH - MARGIN - 80, top, _plain(number)),
        b"/F2 %d Tf" % SIZE,  # the column header is bold, the rows are not
    ]
    y = top - 2 * LEADING
    for index, line in enumerate(lines):
        if index == 1:
            parts.append(b"/F1 %d Tf" % SIZE)
        for x, cap, cell in zip(xs, caps, line.rstrip(b"\n").split(b"\t"), strict=False):
            if cell:
                parts.append(_at(x, y, _cut(cell, cap)))
        y -= LEADING
    parts.append(b"ET")
    return b"\n".join(parts)


def _at(x: float, y: float, text: bytes) -> bytes:
    return b"1 0 0 1 %.2f %.2f Tm (%s) Tj" % (x, y, _escaped(text))


def _plain(value: str) -> bytes:
    """``value`` on one line (control characters, tabs included, become spaces), in WinAnsi."""
    flat = "".join(" " if ord(ch) < 32 else ch for ch in value)
    return flat.encode("cp1252", errors="replace")


def _cut(text: bytes, chars: int) -> bytes:
    return text if len(text) <= chars else text[: chars - 1] + ELLIPSIS


def _escaped(text: bytes) -> bytes:
    """``text`` as the inside of a PDF literal string."""
    return text.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _trailer(out: BinaryIO, offsets: dict[int, int]) -> None:
    start = out.tell()
    size = max(offsets) + 1
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % size)
    for number in range(1, size):
        out.write(b"%010d 00000 n \n" % offsets[number])
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, start)
    )
