"""Reading a members file: what it is (by its content, not its name), whether its header has
our columns, and its rows one at a time, in constant memory.

A file is CSV (UTF-8, with or without a byte order mark, any line ends, comma, semicolon or
tab between cells) or XLSX (a zip holding a workbook; the first sheet is read). Anything else
is refused with what it looks like and how to save it right."""

import codecs
import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.conf import settings

from apps.common.errors import ApplicationError

COLUMNS = ("phone", "name", "upline_phone", "pending", "withdrawable")
DELIMITERS = (",", ";", "\t")
BLOCK = 1 << 20
# An XLSX that unpacks to more than this many times the upload limit is refused (a zip bomb).
UNPACK_RATIO = 20
SAVE_AS = 'save it as "CSV UTF-8 (Comma delimited)" (or as .xlsx) and upload it again'


@dataclass
class Facts:
    """What a checked file is: its format, digest, columns and the rows it seems to hold."""

    format: str
    size: int
    sha256: str
    columns: dict[str, int]
    width: int
    delimiter: str = ""
    total: int = 0  # rows of members: exact for CSV, the sheet's own count for XLSX
    warnings: list[str] = field(default_factory=list)


def file_check(handle) -> Facts:
    """Check a binary, seekable file: its kind, encoding, header and first row. Raises
    ApplicationError saying what is wrong; reads in blocks, never the whole file at once."""
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    limit = settings.IMPORT_MAX_BYTES
    if size > limit:
        raise ApplicationError(f"The file is {_mb(size)}; an import takes at most {_mb(limit)}.")
    handle.seek(0)
    head = handle.read(8)
    handle.seek(0)
    if size == 0:
        raise ApplicationError("The file is empty.")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _xlsx_check(handle, size)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ApplicationError(f"The file is an old Excel workbook (.xls): {SAVE_AS}.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ApplicationError(f"The file is UTF-16 text, not UTF-8: {SAVE_AS}.")
    return _csv_check(handle, size)


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.1f} MB" if size >= 1 << 20 else f"{size:,} bytes"


def _csv_check(handle, size: int) -> Facts:
    digest = _utf8_check(handle)
    handle.seek(0)
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        first = text.readline()
        if not first.strip():
            blank = all(not block.strip() for block in iter(lambda: text.read(BLOCK), ""))
            raise ApplicationError("The file is empty." if blank else _no_header(first))
        delimiter = _delimiter(first)
        text.seek(0)
        reader = _reader(text, delimiter)
        header = next(reader)
        columns, warnings = header_map(header)
        rows = 0
        try:
            for cells in reader:
                rows += any(c.strip() for c in cells)
        except csv.Error as exc:
            raise ApplicationError(
                f"Row {reader.line_num} cannot be read as CSV ({exc}): a value with a quote "
                "or a line break needs quotes around it."
            ) from None
    finally:
        text.detach()  # the caller's file stays open
    _rows_check(rows)
    return Facts("csv", size, digest, columns, _width(header), delimiter, rows, warnings)


def _utf8_check(handle) -> str:
    """The file's SHA-256, once every byte is known to be UTF-8 text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    digest, lines, offset = hashlib.sha256(), 0, 0
    while block := handle.read(BLOCK):
        digest.update(block)
        if b"\x00" in block:
            raise ApplicationError("The file is not text (it holds NUL bytes): is it CSV or XLSX?")
        try:
            decoder.decode(block)
        except UnicodeDecodeError as exc:
            line = lines + block.count(b"\n", 0, exc.start) + 1
            byte, at = block[exc.start : exc.start + 1].hex().upper(), offset + exc.start + 1
            raise ApplicationError(
                f"The file is not UTF-8 (byte 0x{byte} on line {line}, byte {at} of the file):"
                f" {SAVE_AS}."
            ) from None
        lines += block.count(b"\n")
        offset += len(block)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ApplicationError(f"The file ends inside a character: not UTF-8: {SAVE_AS}.") from None
    return digest.hexdigest()


def _delimiter(line: str) -> str:
    for delimiter in DELIMITERS:
        cells = next(csv.reader([line], delimiter=delimiter))
        if "phone" in {column_name(c) for c in cells}:
            return delimiter
    return ","


def _reader(text, delimiter: str):
    return csv.reader(text, delimiter=delimiter, strict=True)


def _xlsx_check(handle, size: int) -> Facts:
    try:
        with zipfile.ZipFile(handle) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise ApplicationError("The file looks like a zip (XLSX) but is damaged.") from None
    if "xl/workbook.xml" not in names:
        raise ApplicationError(f"The file is a zip archive, not an XLSX workbook: {SAVE_AS}.")
    if unpacked > UNPACK_RATIO * settings.IMPORT_MAX_BYTES:
        raise ApplicationError(f"The workbook unpacks to {_mb(unpacked)}: too large to import.")
    digest = hashlib.sha256()
    handle.seek(0)
    while block := handle.read(BLOCK):
        digest.update(block)
    book = _workbook(handle)
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ApplicationError("The workbook's first sheet is empty.")
        header = [text_of(v) for v in header]
        columns, warnings = header_map(header)
        if not any(any(text_of(v) for v in row) for row in rows):
            raise ApplicationError("The file has a header but no rows of members.")
        if len(book.worksheets) > 1:
            warnings.append(f'Only the first sheet ("{sheet.title}") is read.')
        estimate = max((sheet.max_row or 1) - 1, 0)
    finally:
        book.close()
    _rows_check(estimate)
    facts = Facts("xlsx", size, digest.hexdigest(), columns, _width(header), "", estimate)
    facts.warnings = warnings
    return facts


def _width(header: list[str]) -> int:
    """The header's cells up to its last named one (trailing empty cells do not count)."""
    named = [i for i, c in enumerate(header) if c.strip()]
    return named[-1] + 1


def _workbook(handle):
    from openpyxl import load_workbook

    handle.seek(0)
    try:
        return load_workbook(handle, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise ApplicationError(f"The XLSX workbook cannot be read ({exc}).") from None


def _rows_check(rows: int) -> None:
    if rows == 0:
        raise ApplicationError("The file has a header but no rows of members.")
    if rows > settings.IMPORT_MAX_ROWS:
        raise ApplicationError(
            f"The file has {rows} rows; an import takes at most {settings.IMPORT_MAX_ROWS}: "
            "split it into several files (uplines first, or in any order across files "
            "imported one after the other)."
        )


def column_name(text: str) -> str:
    """A header cell as a column name: 'Upline Phone' and 'upline-phone' are upline_phone."""
    return re.sub(r"[\s\-]+", "_", text.replace("\ufeff", "").strip().lower())


def _no_header(first: str) -> str:
    shown = first.strip()[:80]
    said = f"it reads: {shown}" if shown.strip(", ;\t") else "it is blank"
    return f"The first row must be the header ({', '.join(COLUMNS)}); {said}."


def header_map(cells: list[str]) -> tuple[dict[str, int], list[str]]:
    """Our columns' places in the header, and warnings; ApplicationError if one is missing
    or named twice. Other columns are ignored, with a warning."""
    names = [column_name(c) for c in cells]
    if not set(names) & set(COLUMNS):
        raise ApplicationError(_no_header(", ".join(cells)))
    places: dict[str, int] = {}
    for place, name in enumerate(names):
        if name in COLUMNS:
            if name in places:
                raise ApplicationError(
                    f"The header names {name} twice (columns {letter(places[name])} and "
                    f"{letter(place)})."
                )
            places[name] = place
    missing = [c for c in COLUMNS if c not in places]
    if missing:
        raise ApplicationError(
            f"The header lacks the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; it needs {', '.join(COLUMNS)}."
        )
    extra = [cells[i].strip() for i, n in enumerate(names) if n and n not in COLUMNS]
    warnings = [f"Columns ignored: {', '.join(extra)}."] if extra else []
    return places, warnings


def letter(place: int) -> str:
    """A column's letters as a spreadsheet shows them: 0 -> A, 26 -> AA."""
    text = ""
    place += 1
    while place:
        place, rest = divmod(place - 1, 26)
        text = chr(65 + rest) + text
    return text


def text_of(value) -> str:
    """A cell as text: numbers as written (a whole float without '.0'), times ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value).strip()


def rows_read(handle, *, fmt: str, delimiter: str, after: int) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) for each row after row ``after`` (the header is row 1),
    blank rows left out, from a file file_check accepted."""
    if fmt == "xlsx":
        book = _workbook(handle)
        try:
            sheet = book.worksheets[0]
            start = max(after + 1, 2)
            for number, row in enumerate(sheet.iter_rows(min_row=start, values_only=True), start):
                cells = [text_of(v) for v in row]
                if any(cells):
                    yield number, cells
        finally:
            book.close()
        return
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    for number, cells in enumerate(_reader(text, delimiter), 1):
        if number > max(after, 1) and any(c.strip() for c in cells):
            yield number, [c.strip() for c in cells]
