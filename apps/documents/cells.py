"""What a cell may hold in a file we write: text that a spreadsheet would run as a formula is
neutralised (OWASP's CSV injection advice: a leading =, +, -, @, tab or carriage return gets a
quote in front, so it shows as text and runs nothing)."""

from datetime import datetime
from decimal import Decimal

from django.utils import timezone

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text that cannot start a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value):
    """A value as a file's cell: numbers stay numbers, times are local and plain, None is
    empty, and any text is neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal | float):
        return value
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value.tzinfo else value
    return neutralise(str(value))
