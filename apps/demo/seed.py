"""Demo data for engagement and money: a referral forest of members, the activities,
today's assignments and some completions (seed_demo --members N; the benchmark's forest).

Completions go through assignment_complete, the path a member's request takes, so demo
wallets and commissions are exactly what production would write. Idempotent: members are
numbered by phone, so a second run with the same N adds nothing.
"""

import logging
import math
import random
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from apps.accounts.models import Member
from apps.engagement.models import Activity, Assignment
from apps.engagement.services import activities_assign_for_day, assignment_complete

DEMO_PHONE_PREFIX = "254700"  # then six digits: up to a million demo members
DEMO_PASSWORD = "conveyor-demo"  # noqa: S105  (set only under DEBUG, see members_seed)
ROOT_SHARE = 0.05  # members nobody referred
BATCH = 5_000

DEMO_ACTIVITIES = [
    ("Watch: getting the most from your hotspot", Activity.Kind.VIDEO, Decimal("5.00")),
    ("Survey: how was your connection today?", Activity.Kind.SURVEY, Decimal("7.50")),
    ("Review a local business", Activity.Kind.REVIEW, Decimal("10.00")),
    ("Sync your contacts' referral codes", Activity.Kind.SYNC, Decimal("2.35")),
]


def members_seed(count: int, rng: random.Random) -> int:
    """Members up to ``count``, each referred by a random earlier one (a random recursive
    tree: depth grows like log n) or, for ROOT_SHARE of them, by nobody. Created now."""
    demo = Member.objects.filter(phone__startswith=DEMO_PHONE_PREFIX)
    ids = list(demo.order_by("pk").values_list("pk", flat=True))
    # One hash for all (hashing 100,000 takes hours); outside DEBUG nobody can sign in.
    password = make_password(DEMO_PASSWORD if settings.DEBUG else None)
    created = 0
    if not ids and count:
        ids.append(Member.objects.create(phone=_phone(0), name="Demo 0", password=password).pk)
        created = 1
    while len(ids) < count:
        # A batch at most as big as what exists, so small forests grow deep too.
        numbers = range(len(ids), min(len(ids) + min(BATCH, len(ids)), count))
        batch = [
            Member(
                phone=_phone(number),
                name=f"Demo {number}",
                password=password,
                referred_by_id=rng.choice(ids) if rng.random() > ROOT_SHARE else None,
            )
            for number in numbers
        ]
        ids += [member.pk for member in Member.objects.bulk_create(batch)]
        created += len(batch)
    return created


def _phone(number: int) -> str:
    return f"{DEMO_PHONE_PREFIX}{number:06d}"


def activities_seed() -> int:
    created = 0
    for title, kind, reward in DEMO_ACTIVITIES:
        _, is_new = Activity.objects.get_or_create(
            title=title, defaults={"kind": kind, "reward": reward}
        )
        created += is_new
    return created


def today_assign_and_complete(share: float, rng: random.Random) -> tuple[int, int]:
    """Assign today's activities to everyone, then complete ``share`` of the demo members' open
    ones as their members would. (assignments made, completions)."""
    today = timezone.localdate()
    before = Assignment.objects.filter(day=today).count()
    activities_assign_for_day(day=today, after_member_id=0, members=BATCH, budget_seconds=math.inf)
    made = Assignment.objects.filter(day=today).count() - before
    open_ones = Assignment.objects.filter(
        day=today,
        status=Assignment.Status.ASSIGNED,
        member__phone__startswith=DEMO_PHONE_PREFIX,
    ).values_list("pk", "member_id")
    completed = 0
    quiet = logging.getLogger("conveyor.engagement")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # one line per demo completion would bury the summary
    try:
        for assignment_id, member_id in open_ones.iterator():
            if rng.random() < share and assignment_complete(
                assignment_id=assignment_id, member_id=member_id
            ):
                completed += 1
    finally:
        quiet.setLevel(level)
    return made, completed
