"""What a document can hold. A domain above registers its sources in its ready(), so this
app serves them all and imports none (as the operations page's panels do).

A source reads its rows in key order a chunk at a time, ``rows(params, after, limit)`` giving
[(key, row), ...] after the key ``after`` (None: from the start): a file of any size is made
in constant memory, and a run that stops goes on from the last key it saved."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from apps.common.errors import ApplicationError


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: Callable[[dict, object, int], Sequence[tuple[object, Sequence]]]
    count: Callable[[dict], int]
    dated: bool = True  # takes a date range (a report); False: everything (an export)
    kind: str = "report"  # or "export": how admin lists it


_SOURCES: dict[str, Source] = {}


def register(source: Source) -> None:
    _SOURCES[source.name] = source


def source_get(name: str) -> Source:
    try:
        return _SOURCES[name]
    except KeyError:
        known = ", ".join(sorted(_SOURCES)) or "none"
        raise ApplicationError(f"Unknown report {name!r}; one of {known}.") from None


def sources_all() -> list[Source]:
    return sorted(_SOURCES.values(), key=lambda s: (s.kind, s.title))
