"""One row's values, cleaned and checked on their own (no database): the phone in any Kenyan
spelling normalize_phone takes, a name that fits, balances in KES. The first fault found is
the row's reason; checks against other rows and members come later, in SQL."""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from apps.accounts.models import Member
from apps.accounts.phone import normalize_phone
from apps.documents.cells import FORMULA_STARTS
from apps.imports.reading import COLUMNS
from apps.wallets.models import MONEY

NAME_MAX = Member._meta.get_field("name").max_length
WHOLE_DIGITS = MONEY["max_digits"] - MONEY["decimal_places"]
_AMOUNT = re.compile(r"^\d+(\.\d+)?$")
VALUE_MAX = 200  # characters of a refused value kept for the error report


@dataclass
class Clean:
    phone: str | None = None
    name: str = ""
    upline: str | None = None
    pending: Decimal = Decimal("0.00")
    withdrawable: Decimal = Decimal("0.00")
    column: str = ""
    value: str = ""
    reason: str = ""


class Refused(Exception):
    def __init__(self, column: str, value: str, reason: str):
        super().__init__(reason)
        self.column, self.value, self.reason = column, value, reason


def row_clean(cells: list[str], places: dict[str, int], width: int) -> Clean:
    """The row's values by column; a refused row keeps what was read before its fault."""
    values = {c: cells[places[c]] if places[c] < len(cells) else "" for c in COLUMNS}
    clean = Clean()
    try:
        _width(cells, width)
        _formulas(values)
        clean.phone = _phone(values["phone"], "phone")
        clean.name = _name(values["name"])
        clean.upline = _phone(values["upline_phone"], "upline_phone") or None
        if clean.upline == clean.phone:
            raise Refused(
                "upline_phone", values["upline_phone"], "a member cannot be their own upline"
            )
        clean.pending = _amount(values["pending"], "pending")
        clean.withdrawable = _amount(values["withdrawable"], "withdrawable")
    except Refused as refused:
        clean.column, clean.value = refused.column, refused.value[:VALUE_MAX]
        clean.reason = refused.reason
    return clean


def _formulas(values: dict[str, str]) -> None:
    for column, value in values.items():
        if value.startswith("="):
            raise Refused(column, value, "a formula, not a value: save the sheet with its values")
    if values["name"].startswith(FORMULA_STARTS):
        raise Refused(
            "name",
            values["name"],
            f"starts with {values['name'][0]!r}, which a spreadsheet runs as a formula",
        )


def _phone(raw: str, column: str) -> str:
    if not raw:
        if column == "phone":
            raise Refused(column, raw, "the phone number is missing")
        return ""
    try:
        return normalize_phone(raw)
    except ValidationError:
        raise Refused(
            column, raw, "not a Kenyan mobile number (e.g. 0712345678 or +254712345678)"
        ) from None


def _name(raw: str) -> str:
    name = " ".join(raw.split())
    if len(name) > NAME_MAX:
        raise Refused("name", raw, f"longer than {NAME_MAX} characters ({len(name)})")
    return name


def _amount(raw: str, column: str) -> Decimal:
    if not raw:
        return Decimal("0.00")
    if raw.startswith("-") and _AMOUNT.match(raw[1:]):
        raise Refused(column, raw, "negative: a balance is 0 or more")
    if not _AMOUNT.match(raw):
        raise Refused(
            column, raw, "not an amount in KES (digits and a decimal point, e.g. 1500.50)"
        )
    whole, _, places = raw.partition(".")
    if len(places) > MONEY["decimal_places"]:
        raise Refused(column, raw, "more than 2 decimal places")
    if len(whole.lstrip("0")) > WHOLE_DIGITS:
        raise Refused(column, raw, f"too large (at most {WHOLE_DIGITS} digits before the point)")
    return Decimal(raw).quantize(Decimal("0.01"))


def _width(cells: list[str], width: int) -> None:
    """A row with values past the header's last cell has shifted: an unquoted comma."""
    if len(cells) <= width or not any(cells[width:]):
        return
    last = max(i for i, c in enumerate(cells) if c)
    raise Refused(
        "",
        cells[last],
        f"{last + 1} values for the header's {width} columns: a value with a comma in it "
        "needs quotes",
    )
