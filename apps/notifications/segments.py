"""Segments: the active members a staff message goes to, as a filter kept in JSON on its
Broadcast, so that the writer runs it again for each chunk, by member id.

Keys, all optional, combined with AND (members are active, always):
- ``joined_from``, ``joined_to``: ISO dates, both days included, in TIME_ZONE;
- ``upline``: 254XXXXXXXXX, whose direct referrals they are (``referred_by``, level 1 only);
- ``has_email``: true (every send by mail alone gets it);
- ``min_withdrawable``: KES as a string, the least withdrawable balance;
- ``upto``: the highest member id when staff confirmed the send (the service sets it), so a
  member who joins during the send is not in it.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet
from django.utils import timezone

from apps.accounts.models import Member
from apps.notifications.models import Channel


@dataclass(frozen=True)
class Reach:
    members: int  # active members the filters match
    without_email: int  # of them, those without an email address

    def reached(self, channels) -> int:
        """Members who get something: mail alone skips those without an address."""
        if list(channels) == [Channel.EMAIL]:
            return self.members - self.without_email
        return self.members


def segment_build(
    *,
    joined_from: date | None = None,
    joined_to: date | None = None,
    upline: str = "",
    has_email: bool = False,
    min_withdrawable: Decimal | None = None,
) -> dict:
    """A segment's JSON, with only the filters that are set (a zero balance is none)."""
    segment = {
        "joined_from": joined_from.isoformat() if joined_from else None,
        "joined_to": joined_to.isoformat() if joined_to else None,
        "upline": upline or None,
        "has_email": has_email or None,
        "min_withdrawable": str(min_withdrawable) if min_withdrawable else None,
    }
    return {k: v for k, v in segment.items() if v is not None}


def segment_members(*, segment: dict | None) -> QuerySet[Member]:
    """The active members ``segment`` matches; every active member without one."""
    members = Member.objects.filter(is_active=True)
    segment = segment or {}
    if value := segment.get("joined_from"):
        members = members.filter(date_joined__gte=_day_start(value))
    if value := segment.get("joined_to"):
        members = members.filter(date_joined__lt=_day_start(value) + timedelta(days=1))
    if value := segment.get("upline"):
        members = members.filter(referred_by__phone=value)
    if segment.get("has_email"):
        members = members.exclude(email="")
    if value := segment.get("min_withdrawable"):
        # Across the wallet's reverse relation, by name: apps.wallets sits above this app in
        # the layers, so it is not imported. A member without a wallet has no balance.
        members = members.filter(wallet__withdrawable__gte=Decimal(value))
    if value := segment.get("upto"):
        members = members.filter(pk__lte=value)
    return members


def segment_reach(*, segment: dict | None) -> Reach:
    counts = segment_members(segment=segment).aggregate(
        members=Count("pk"), without_email=Count("pk", filter=Q(email=""))
    )
    return Reach(**counts)


def segment_describe(segment: dict | None) -> str:
    """The filters in words, for staff."""
    segment = segment or {}
    words = ["active members"]
    if "joined_from" in segment or "joined_to" in segment:
        since, until = segment.get("joined_from"), segment.get("joined_to")
        words.append(f"joined {since or 'any time'} to {until or 'today'}")
    if "upline" in segment:
        words.append(f"referred by {segment['upline']}")
    if segment.get("has_email"):
        words.append("with an email address")
    if "min_withdrawable" in segment:
        words.append(f"with at least KES {segment['min_withdrawable']} withdrawable")
    if "upto" in segment:
        words.append(f"member ids up to {segment['upto']}")
    return ", ".join(words)


def member_last_id() -> int:
    return Member.objects.aggregate(last=Max("pk"))["last"] or 0


def member_phone_exists(*, phone: str) -> bool:
    return Member.objects.filter(phone=phone).exists()


def _day_start(iso_date: str) -> datetime:
    return timezone.make_aware(datetime.combine(date.fromisoformat(iso_date), time.min))
