"""Tags, as Horizon's: what a task or event is about, e.g. ``payment:<id>``, ``router:3``.

Derived, never typed: a keyword ``payment_id`` gives ``payment:<id>``, a nested object with
an ``id`` under ``subscription`` gives ``subscription:<id>``, a ``queue`` gives
``queue:<name>``. Stored as one text with a space on each side of every tag, so a search for
`` payment:5 `` finds that payment only and ``payment:`` finds them all.
"""


def tags_of(data: dict) -> list[str]:
    found = set()
    for key, value in data.items():
        if key.endswith("_id") and value not in (None, ""):
            found.add(f"{key[:-3]}:{value}")
        elif isinstance(value, dict) and value.get("id") not in (None, ""):
            found.add(f"{key}:{value['id']}")
        elif key == "queue" and isinstance(value, str):
            found.add(f"queue:{value}")
    return sorted(found)


def stored(tags: list[str]) -> str:
    return f" {' '.join(tags)} " if tags else ""
