from apps.ops.management.output import OpsCommand, non_negative
from apps.ops.services import failed_tasks_flush


class Command(OpsCommand):
    help = "Delete all failed tasks, or those older than --hours (artisan queue:flush)."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=non_negative, help="Only those older than N hours.")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        deleted = failed_tasks_flush(older_than_hours=options["hours"])
        self.emit(
            options,
            [{"deleted": deleted, "older_than_hours": options["hours"]}],
            [("deleted", "DELETED"), ("older_than_hours", "OLDER THAN (H)")],
            empty="",
        )
