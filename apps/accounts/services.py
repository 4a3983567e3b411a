"""Writes of the accounts domain."""

from django.contrib.auth.hashers import make_password

from apps.accounts.models import Member
from apps.accounts.phone import normalize_phone


def member_create(
    *, phone: str, name: str = "", referred_by: Member | None = None, password: str | None = None
) -> Member:
    """Create a member; the phone is normalized and must be new (ValidationError otherwise)."""
    return Member.objects.create_user(phone, password, name=name, referred_by=referred_by)


def member_get_or_create_by_phone(*, phone: str) -> tuple[Member, bool]:
    """The member who owns ``phone`` (any spelling), created without a password if new."""
    return Member.objects.get_or_create(
        phone=normalize_phone(phone), defaults={"password": make_password(None)}
    )
