from django.core.management.base import CommandError

from apps.ops.management.output import OpsCommand, queue_name
from apps.ops.services import failed_tasks_retry

COLUMNS = [
    ("failed_task_id", "ID"),
    ("task_name", "TASK"),
    ("queue", "QUEUE"),
    ("task_id", "NEW TASK ID"),
]


class Command(OpsCommand):
    help = (
        "Publish failed tasks again on their own queue and delete their rows "
        "(artisan queue:retry). IDs, or 'all'."
    )

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="+", metavar="ID|all", help="Failed task ids, or 'all'.")
        parser.add_argument("--queue", type=queue_name, help="With 'all': only this queue.")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        ids = _parse_ids(options["ids"])
        if ids is not None and options["queue"]:
            raise CommandError("--queue goes with 'all', not with ids.")
        retried, errors = failed_tasks_retry(ids=ids, queue=options["queue"])
        self.emit(options, [vars(r) for r in retried], COLUMNS, empty="Nothing to retry.")
        if errors:
            raise CommandError("\n".join(errors))


def _parse_ids(values: list[str]) -> list[int] | None:
    if values == ["all"]:
        return None
    try:
        return [int(v) for v in values]
    except ValueError:
        raise CommandError("Give failed task ids (numbers) or 'all'.") from None
