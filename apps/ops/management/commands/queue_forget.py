from django.core.management.base import CommandError

from apps.common.errors import ApplicationError
from apps.ops.management.output import OpsCommand
from apps.ops.services import failed_task_forget


class Command(OpsCommand):
    help = "Delete one failed task without running it (artisan queue:forget)."

    def add_arguments(self, parser):
        parser.add_argument("id", type=int, help="The failed task id (see queue_failed).")
        super().add_arguments(parser)

    def handle(self, *args, **options):
        try:
            failed_task_forget(failed_task_id=options["id"])
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        self.emit(
            options,
            [{"id": options["id"], "forgotten": True}],
            [("id", "ID"), ("forgotten", "FORGOTTEN")],
            empty="",
        )
