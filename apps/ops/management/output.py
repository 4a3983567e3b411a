"""What the queue_* commands share: --json, a readable table, queue-name arguments."""

import argparse
import json

from django.core.management.base import BaseCommand

from config import queues


def queue_name(value: str) -> str:
    """argparse type: a queue of the table."""
    if value not in queues.BY_NAME:
        raise argparse.ArgumentTypeError(
            f"unknown queue {value!r}; the queues are {', '.join(queues.NAMES)}"
        )
    return value


def non_negative(value: str) -> float:
    """argparse type: a number of seconds or hours, zero or more."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is negative")
    return number


def render_table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """Rows as aligned text columns; ``columns`` is [(key, header), ...]."""
    cells = [[header for _, header in columns]]
    cells += [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "-"
    return str(value)


class OpsCommand(BaseCommand):
    """A command that prints rows as a table, or as JSON with --json."""

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

    def emit(self, options, rows: list[dict], columns: list[tuple[str, str]], empty: str) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2, default=str))
        elif rows:
            self.stdout.write(render_table(rows, columns))
        else:
            self.stdout.write(empty)
