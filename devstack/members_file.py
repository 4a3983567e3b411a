"""Members files for the import's tests and benchmark: a referral forest in shuffled order
(uplines as often after their referrals as before), phones in every Kenyan spelling, opening
balances with cents, and chains deeper than the referral rules allow.

``members_rows`` says what each row should become; ``members_csv`` writes them."""

import csv
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

HEADER = ("phone", "name", "upline_phone", "pending", "withdrawable")
FIRST = 110_000_000  # 2541 10 000 000 on: apart from seed_demo's 2547 numbers


@dataclass(frozen=True)
class Planned:
    phone: str  # as stored: 254XXXXXXXXX
    name: str
    upline: str | None
    pending: Decimal
    withdrawable: Decimal
    depth: int  # uplines above


def phone_of(n: int) -> str:
    return f"254{FIRST + n:09d}"


def spelled(phone: str, n: int) -> str:
    """One of the shapes normalize_phone takes, in turn: 2541…, +2541…, 01…, 1…, spaced,
    dashed."""
    local = phone[3:]
    shapes = (
        phone,
        "+" + phone,
        "0" + local,
        local,
        f"0{local[:3]} {local[3:6]} {local[6:]}",
        f"+254-{local[:3]}-{local[3:6]}-{local[6:]}",
    )
    return shapes[n % len(shapes)]


def members_rows(
    count: int, *, deep: tuple[int, ...] = (300,), seed: int = 1, first: int = 0
) -> list[Planned]:
    """``count`` members in file order: a bushy forest, plus one chain per ``deep`` length
    (its rows deeper than the rules allow are refused by an import)."""
    rng = random.Random(seed)  # noqa: S311 - test data, the same for a seed
    bushy = count - sum(deep)
    planned: list[Planned] = []
    for i in range(bushy):
        if i < 10 or rng.random() < 0.01:
            upline, depth = None, 0
        else:
            up = planned[rng.randrange(i)]
            upline, depth = up.phone, up.depth + 1
        planned.append(_member(first + i, upline, depth, rng))
    n = first + bushy
    for length in deep:
        upline = None
        for depth in range(length):
            planned.append(_member(n, upline, depth, rng))
            upline, n = planned[-1].phone, n + 1
    rng.shuffle(planned)
    return planned


def _member(n: int, upline: str | None, depth: int, rng: random.Random) -> Planned:
    def money() -> Decimal:
        return Decimal(0) if rng.random() < 0.3 else Decimal(rng.randrange(1, 500_000)) / 100

    return Planned(phone_of(n), f"Member {n}", upline, money(), money(), depth)


def members_csv(path: Path, rows: list[Planned]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(HEADER)
        for i, row in enumerate(rows):
            upline = spelled(row.upline, i + 1) if row.upline else ""
            out.writerow([spelled(row.phone, i), row.name, upline, row.pending, row.withdrawable])
    return path
