from apps.ops.batches import batches_prune
from apps.ops.management.output import OpsCommand, non_negative


class Command(OpsCommand):
    help = (
        "Delete finished batches older than --hours (default 24), and with --unfinished or "
        "--cancelled those older than theirs (artisan queue:prune-batches)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=non_negative, default=24.0)
        parser.add_argument("--unfinished", type=non_negative, metavar="HOURS")
        parser.add_argument("--cancelled", type=non_negative, metavar="HOURS")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        pruned = batches_prune(
            hours=options["hours"],
            unfinished_hours=options["unfinished"],
            cancelled_hours=options["cancelled"],
        )
        self.emit(options, [{"pruned": pruned}], [("pruned", "PRUNED")], empty="")
