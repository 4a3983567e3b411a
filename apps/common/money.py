"""Money is Decimal with two places (KES)."""

from decimal import Decimal

CENT = Decimal("0.01")


def cents(total) -> Decimal:
    """A sum from SQL as shillings and cents, whatever the database returned (SQLite adds
    decimals as floats; an empty SUM is None)."""
    return Decimal(str(total or 0)).quantize(CENT)
