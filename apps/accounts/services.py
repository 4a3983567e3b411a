"""Writes of the accounts domain."""

from apps.accounts.models import Member


def member_create(
    *, phone: str, name: str = "", referred_by: Member | None = None, password: str | None = None
) -> Member:
    """Create a member; the phone is normalized and must be new (ValidationError otherwise)."""
    return Member.objects.create_user(phone, password, name=name, referred_by=referred_by)
