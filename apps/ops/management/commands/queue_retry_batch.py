from django.core.management.base import CommandError

from apps.common.errors import ApplicationError
from apps.ops.batches import batch_retry_failed
from apps.ops.management.commands.queue_retry import COLUMNS
from apps.ops.management.output import OpsCommand


class Command(OpsCommand):
    help = "Retry the failed jobs of a batch (artisan queue:retry-batch)."

    def add_arguments(self, parser):
        parser.add_argument("id", help="The batch id (a UUID).")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        try:
            retried, errors = batch_retry_failed(batch_id=options["id"])
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        self.emit(options, [vars(r) for r in retried], COLUMNS, empty="Nothing to retry.")
        if errors:
            raise CommandError("\n".join(errors))
