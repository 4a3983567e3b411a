"""Tags, as Horizon's: what a task or event is about, e.g. ``payment:<id>``, ``router:3``.

Derived, never typed: a keyword ``payment_id`` gives ``payment:<id>``, a nested object with
an ``id`` under ``subscription`` gives ``subscription:<id>``, a ``queue`` gives
``queue:<name>``. Stored as one text with a space on each side of every tag, so a search for
`` payment:5 `` finds that payment only and ``payment:`` finds them all.

A message may carry more in its HEADER (an event's listeners carry the event's tags), kept
through retries; the run log indexes a run by both.
"""

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html

HEADER = "tags"


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


def run_tags(kwargs: dict, headers: dict | None) -> list[str]:
    """A run's tags: its arguments' and its message's."""
    return sorted({*tags_of(kwargs), *((headers or {}).get(HEADER) or ())})


def timeline_url(tags: list[str]) -> str:
    """The operations timeline of every task run that carried one of ``tags``."""
    return f"{reverse('ops:timeline')}?{urlencode({'tag': ' '.join(tags)})}"


def timeline_link(tags: list[str]) -> str:
    """An admin field: a link to the timeline of ``tags`` (an entity and those it led to)."""
    return format_html('<a href="{}">Every task run, in order</a>', timeline_url(tags))
