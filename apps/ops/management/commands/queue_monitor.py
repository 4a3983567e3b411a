import argparse

from django.core.management.base import CommandError

from apps.ops import broker
from apps.ops.alerts import queues_alert
from apps.ops.management.output import OpsCommand, non_negative, queue_name
from apps.ops.selectors import queue_states

COLUMNS = [
    ("queue", "QUEUE"),
    ("depth", "DEPTH"),
    ("max_depth", "MAX"),
    ("oldest_wait", "OLDEST WAIT (S)"),
    ("max_wait", "MAX WAIT (S)"),
    ("workers", "WORKERS"),
    ("status", "STATUS"),
]


def queue_spec(value: str) -> tuple[str, int | None]:
    """argparse type: QUEUE or QUEUE:MAX (artisan queue:monitor's form)."""
    name, _, limit = value.partition(":")
    queue_name(name)
    if not limit:
        return name, None
    if not limit.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r}: MAX must be a whole number of messages")
    return name, int(limit)


class Command(OpsCommand):
    help = (
        "Depth, oldest wait and consuming workers of each queue (artisan queue:monitor). "
        "Exits 1 when a queue is over its depth or wait threshold (the queue table's, "
        "unless given here)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "queues",
            nargs="*",
            type=queue_spec,
            metavar="QUEUE[:MAX]",
            help="Queues to check (default: all), with an optional max depth.",
        )
        parser.add_argument(
            "--max-wait",
            type=non_negative,
            metavar="SECONDS",
            help="Max oldest wait for every queue checked.",
        )
        parser.add_argument(
            "--require-workers",
            action="store_true",
            help="Also exit 1 when a queue has no consuming worker.",
        )
        parser.add_argument(
            "--no-alert",
            action="store_true",
            help="Only report: no QueueBusy event or mail for a busy queue.",
        )
        parser.add_argument(
            "--timeout",
            type=non_negative,
            default=1.0,
            metavar="SECONDS",
            help="How long to wait for workers to answer (default 1).",
        )
        super().add_arguments(parser)

    def handle(self, *args, **options):
        specs = dict(options["queues"])
        try:
            statuses = queue_states(
                names=list(specs) or None,
                max_depth={name: limit for name, limit in specs.items() if limit is not None},
                max_wait=options["max_wait"],
                fresh=True,  # an operator asking wants the workers' answer now
                inspect_timeout=options["timeout"],
            )
        except broker.BROKER_ERRORS as exc:
            raise CommandError(f"The broker does not answer: {exc}") from exc
        rows = [
            {
                "queue": s.name,
                "depth": s.depth,
                "max_depth": s.max_depth,
                "oldest_wait": None if s.oldest_wait is None else round(s.oldest_wait, 1),
                "max_wait": s.max_wait,
                "workers": list(s.workers),
                "status": _status(s, options["require_workers"]),
            }
            for s in statuses
        ]
        self.emit(options, rows, COLUMNS, empty="")
        if not options["no_alert"]:
            queues_alert(statuses)
        alarms = [r["queue"] for r in rows if r["status"] != "ok"]
        if alarms:
            raise CommandError(f"Over threshold: {', '.join(alarms)}", returncode=1)


def _status(status, require_workers: bool) -> str:
    problems = []
    if status.over_depth:
        problems.append("depth")
    if status.over_wait:
        problems.append("wait")
    if require_workers and not status.workers:
        problems.append("no workers")
    return "over: " + ", ".join(problems) if problems else "ok"
