"""Panels other apps add to the operations page, so that ops shows every domain and imports
none: an app registers a title and a function returning {"columns": [...], "rows": [[...]]}
(optionally "progress_column": the index of a 0-100 column drawn as a bar) in its ready()."""

import logging
from collections.abc import Callable

log = logging.getLogger("conveyor.ops")

_PANELS: dict[str, tuple[str, Callable[[], dict]]] = {}


def register(name: str, title: str, read: Callable[[], dict]) -> None:
    _PANELS[name] = (title, read)


def panel_rows() -> list[dict]:
    """Every panel's data; one that fails shows its error instead of breaking the page."""
    out = []
    for name, (title, read) in _PANELS.items():
        try:
            out.append({"name": name, "title": title, **read()})
        except Exception as exc:
            log.exception("ops.panel_failed name=%s", name)
            out.append({"name": name, "title": title, "columns": [], "rows": [], "error": str(exc)})
    return out
