from apps.ops.batches import batch_list
from apps.ops.management.output import OpsCommand

COLUMNS = [
    ("id", "ID"),
    ("name", "NAME"),
    ("progress", "%"),
    ("processed", "DONE"),
    ("total", "TOTAL"),
    ("failed", "FAILED"),
    ("created_at", "CREATED"),
    ("cancelled_at", "CANCELLED"),
    ("finished_at", "FINISHED"),
]


class Command(OpsCommand):
    help = "List the newest batches with their progress (artisan queue:batches, Horizon)."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=50, help="How many (default 50).")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        rows = batch_list(limit=max(1, options["limit"]))
        self.emit(options, rows, COLUMNS, empty="No batches.")
