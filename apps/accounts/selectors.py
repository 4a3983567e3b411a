"""Reads of the accounts domain."""

from apps.accounts.models import Member


def member_active_get(*, member_id: int) -> Member | None:
    """The active member with this id, or None."""
    return Member.objects.filter(pk=member_id, is_active=True).first()


def member_ids_after(*, after_member_id: int, limit: int) -> list[int]:
    """The next ``limit`` member ids after ``after_member_id``, ascending (every member)."""
    ids = Member.objects.filter(pk__gt=after_member_id).order_by("pk")
    return list(ids.values_list("pk", flat=True)[:limit])


def member_upline(*, member_id: int, levels: int) -> list[int]:
    """The member's referrers, nearest first, at most ``levels`` of them."""
    chain, current = [], member_id
    for _ in range(levels):
        rows = Member.objects.filter(pk=current).order_by()  # one row: no ordering to apply
        current = rows.values_list("referred_by_id", flat=True)[0]
        if current is None or current == member_id or current in chain:
            break  # the top of the tree (or a cycle, which Member.clean refuses)
        chain.append(current)
    return chain
