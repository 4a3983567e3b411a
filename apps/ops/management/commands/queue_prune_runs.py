import time

from apps.ops.management.output import OpsCommand, non_negative
from apps.ops.runs import runs_prune


class Command(OpsCommand):
    help = (
        "Forget the run log's jobs (recent jobs, timelines) whose last run is older than "
        "--days (default RUN_HISTORY_DAYS); beat does it hourly."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=non_negative, help="Keep this many days instead.")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        days = options["days"]
        before = None if days is None else time.time() - days * 86_400
        pruned = runs_prune(before=before)
        self.emit(options, [{"pruned": pruned}], [("pruned", "PRUNED")], empty="")
