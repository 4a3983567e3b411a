"""Kenyan mobile numbers in the one form Daraja uses: 2547XXXXXXXX / 2541XXXXXXXX."""

import re

from django.core.exceptions import ValidationError
from django.db import models

_LOCAL = re.compile(r"^0?([17]\d{8})$")
_INTERNATIONAL = re.compile(r"^(?:\+|00)?254([17]\d{8})$")


def normalize_phone(raw: str) -> str:
    """'0712 345 678', '+254712345678', '712345678' -> '254712345678'; ValidationError otherwise."""
    compact = re.sub(r"[\s\-()]", "", str(raw))
    match = _INTERNATIONAL.match(compact) or _LOCAL.match(compact)
    if not match:
        raise ValidationError(
            "%(value)s is not a Kenyan mobile number (e.g. 0712345678 or 254712345678).",
            code="invalid_phone",
            params={"value": raw},
        )
    return "254" + match.group(1)


class PhoneField(models.CharField):
    """A CharField that cleans any accepted spelling to 254XXXXXXXXX."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 12)
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return value if value in self.empty_values else normalize_phone(value)
