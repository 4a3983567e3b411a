"""The referral graph's odd cases, in Python, for the few rows the validation's levels did
not reach, and the depth of members already here.

By the member model's rules (apps/accounts/models.py) a member has at most MAX_UPLINE_DEPTH
uplines above them, and a longer chain counts as a cycle."""

from apps.accounts.models import MAX_UPLINE_DEPTH, Member
from apps.imports.models import ImportRow

Status = ImportRow.Status
LIVE = (Status.STAGED, Status.UNCHANGED)


def member_depths(ids: set[int]) -> dict[int, int]:
    """Uplines above each of these members, walking the chains a level at a time; a member
    whose chain does not end within MAX_UPLINE_DEPTH is left out (a cycle, by the rules)."""
    parent: dict[int, int | None] = {}
    frontier = set(ids)
    for _ in range(MAX_UPLINE_DEPTH + 1):
        frontier -= parent.keys()
        if not frontier:
            break
        found = dict(Member.objects.filter(pk__in=frontier).values_list("pk", "referred_by_id"))
        parent.update(found)
        frontier = {p for p in found.values() if p is not None}
    depths = {}
    for member_id in ids:
        steps, current = 0, parent.get(member_id)
        while current is not None and steps <= MAX_UPLINE_DEPTH:
            steps, current = steps + 1, parent.get(current)
        if current is None and steps <= MAX_UPLINE_DEPTH:
            depths[member_id] = steps
    return depths


def unreached_refuse(import_id: int) -> None:
    """Refuse every live row the levels did not reach, saying why: its upline is nowhere, or
    its upline's row was refused, or it would be too deep, or it is on a cycle."""
    rows = ImportRow.objects.filter(import_run_id=import_id)
    left = {r.number: r for r in rows.filter(status__in=LIVE, depth__isnull=True)}
    if not left:
        return
    first = _first_rows(rows, {r.upline for r in left.values()})
    up_of = {n: first[r.upline][0] if r.upline in first else None for n, r in left.items()}
    reason: dict[int, str] = {}
    for start in left:
        path, on_path, node = [], set(), start
        while node in left and node not in reason and node not in on_path:
            path.append(node)
            on_path.add(node)
            node = up_of[node]
        if node in on_path:  # the walk closed a loop: the rows from node on are the cycle
            loop = path[path.index(node) :]
            shown = " → ".join(str(n) for n in [*loop[:10], loop[0]])
            for number in loop:
                reason[number] = f"a referral cycle: rows {shown}"
            path = path[: path.index(node)]
        elif path and node not in reason:  # the walk left the unreached rows
            last = path.pop()
            reason[last] = _end_reason(left[last], up_of[last], first)
        for number in path:
            reason[number] = f"its upline (row {up_of[number]}) was refused"
    for number, row in left.items():
        row.status, row.column, row.value = Status.REFUSED, "upline_phone", row.upline or ""
        row.reason, row.upline_row = reason[number], up_of[number]
    fields = ["status", "column", "value", "reason", "upline_row"]
    ImportRow.objects.bulk_update(left.values(), fields, batch_size=1000)


def _first_rows(rows, phones: set) -> dict[str, tuple[int, str]]:
    """The first row (number, status) of each phone: the row an upline's phone names."""
    phones = sorted(p for p in phones if p)
    first: dict[str, tuple[int, str]] = {}
    for start in range(0, len(phones), 500):
        found = rows.filter(phone__in=phones[start : start + 500]).order_by("-number")
        first.update({p: (n, s) for p, n, s in found.values_list("phone", "number", "status")})
    return first


def _end_reason(row: ImportRow, up: int | None, first: dict) -> str:
    if up is None:
        return f"the upline {row.upline} is neither in the file nor a member"
    if first[row.upline][1] == Status.REFUSED:
        return f"its upline (row {up}) was refused"
    most = MAX_UPLINE_DEPTH
    return f"would have more than {most} uplines above it (row {up} has {most})"
