import time

from celery.exceptions import TimeoutError as ResultTimeout
from django.core.management.base import CommandError

from apps.ops import broker
from apps.ops.management.output import OpsCommand, non_negative, queue_name
from apps.ops.services import queue_ping_send
from config import queues

COLUMNS = [("queue", "QUEUE"), ("worker", "ANSWERED BY"), ("round_trip_ms", "ROUND TRIP (MS)")]


class Command(OpsCommand):
    help = (
        "Send a ping task through each queue and wait for the worker that runs it: "
        "proves every pool consumes its queue end to end. Exits 1 if one does not answer."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "queues",
            nargs="*",
            type=queue_name,
            metavar="QUEUE",
            help="Queues to ping (default: all).",
        )
        parser.add_argument(
            "--timeout",
            type=non_negative,
            default=10.0,
            metavar="SECONDS",
            help="How long to wait for each answer (default 10).",
        )
        super().add_arguments(parser)

    def handle(self, *args, **options):
        names = options["queues"] or list(queues.NAMES)
        try:
            sent = {name: (time.perf_counter(), queue_ping_send(queue=name)) for name in names}
        except broker.BROKER_ERRORS as exc:
            raise CommandError(f"The broker does not answer: {exc}") from exc
        rows = []
        for name, (started, result) in sent.items():
            try:
                worker = result.get(timeout=options["timeout"])
                took = round((time.perf_counter() - started) * 1000, 1)
            except ResultTimeout:
                worker, took = None, None
            rows.append({"queue": name, "worker": worker, "round_trip_ms": took})
        self.emit(options, rows, COLUMNS, empty="")
        silent = [r["queue"] for r in rows if r["worker"] is None]
        if silent:
            raise CommandError(f"No answer from: {', '.join(silent)}", returncode=1)
