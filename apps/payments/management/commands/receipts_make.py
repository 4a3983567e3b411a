from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import ApplicationError
from apps.payments.services import receipts_enqueue_missing, receipts_make


class Command(BaseCommand):
    help = (
        "Make the receipts of the payments given, here and now (a receipt made before is drawn "
        "again, same number, same bytes); --missing enqueues one on the documents queue for "
        "every fulfilled payment without one (those fulfilled before receipts existed)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--payment",
            action="append",
            default=[],
            metavar="ID",
            help="A fulfilled payment's id (UUID); repeat for more.",
        )
        parser.add_argument(
            "--missing", action="store_true", help="Enqueue every receipt not made yet."
        )

    def handle(self, *args, payment: list[str], missing: bool, **options):
        if not payment and not missing:
            raise CommandError("Give --payment ID (one or more) or --missing.")
        try:
            receipts = receipts_make(payment_ids=payment)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        for receipt in receipts:
            self.stdout.write(f"{receipt.number} {receipt.file} sha256={receipt.sha256}")
        if missing:
            self.stdout.write(f"{receipts_enqueue_missing()} receipts enqueued.")
