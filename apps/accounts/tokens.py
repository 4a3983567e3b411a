"""Bearer tokens for members' API calls: signed, not stored, revoked by a password change.

A token is the member's id and a stamp of their password hash, signed with SECRET_KEY
(Django's signing, as its password-reset tokens are) and valid for API_TOKEN_MAX_AGE.
"""

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from apps.accounts.models import Member
from apps.accounts.selectors import member_active_get

SALT = "conveyor.accounts.api-token"


def token_issue(member: Member) -> str:
    return signing.dumps({"m": member.pk, "p": _password_stamp(member)}, salt=SALT)


def token_member(token: str) -> Member | None:
    """The active member ``token`` was issued to, or None (forged, expired, revoked)."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.API_TOKEN_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired included
        return None
    if not isinstance(data, dict) or not isinstance(data.get("p"), str):
        return None
    member = member_active_get(member_id=data.get("m"))
    if member is None or not constant_time_compare(data["p"], _password_stamp(member)):
        return None
    return member


def _password_stamp(member: Member) -> str:
    return salted_hmac(SALT, member.password).hexdigest()[:20]
