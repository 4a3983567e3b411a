from django.core.management.base import CommandError
from django.utils import timezone

from apps.ops.management.output import OpsCommand, queue_name
from apps.ops.selectors import failed_task_list
from apps.ops.services import failed_tasks_drain_spool

COLUMNS = [
    ("id", "ID"),
    ("failed_at", "FAILED AT"),
    ("queue", "QUEUE"),
    ("task_name", "TASK"),
    ("attempts", "ATTEMPTS"),
    ("reason", "REASON"),
    ("error", "ERROR"),
]


class Command(OpsCommand):
    help = "List tasks that failed for good, newest first (artisan queue:failed)."

    def add_arguments(self, parser):
        parser.add_argument(
            "id", nargs="?", type=int, help="Show this one in full, traceback included."
        )
        parser.add_argument("--queue", type=queue_name, help="Only this queue.")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        failed_tasks_drain_spool()
        rows = failed_task_list(queue=options["queue"])
        if options["id"] is not None:
            rows = rows.filter(pk=options["id"])
            if not rows:
                raise CommandError(f"No failed task with id {options['id']}.")
        data = [
            {
                "id": row.pk,
                "task_id": row.task_id,
                "failed_at": timezone.localtime(row.failed_at).isoformat(timespec="seconds"),
                "queue": row.queue,
                "task_name": row.task_name,
                "args": row.args,
                "kwargs": row.kwargs,
                "attempts": row.attempts,
                "reason": row.reason,
                "exception_type": row.exception_type,
                "exception_message": row.exception_message,
                "error": _short(row.error_summary()),
                "hostname": row.hostname,
                "traceback": row.traceback,
            }
            for row in rows
        ]
        if options["id"] is not None and not options["json"]:
            self._show(data[0])
            return
        self.emit(options, data, COLUMNS, empty="No failed tasks.")

    def _show(self, row: dict) -> None:
        for key in (
            "id",
            "task_id",
            "task_name",
            "queue",
            "args",
            "kwargs",
            "attempts",
            "reason",
            "failed_at",
            "hostname",
            "exception_type",
            "exception_message",
        ):
            self.stdout.write(f"{key:>17}: {row[key]}")
        self.stdout.write("\n" + row["traceback"])


def _short(error: str, width: int = 70) -> str:
    text = error.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"
