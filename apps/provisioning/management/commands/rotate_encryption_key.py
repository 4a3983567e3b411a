"""manage.py rotate_encryption_key: re-encrypt secrets at rest with the first key."""

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import ApplicationError
from apps.provisioning.services import secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret at rest (router and subscription passwords) that an older "
        "key of FIELD_ENCRYPTION_KEYS encrypted, with the first key; rows already under it "
        "are left alone. Run it once every process has the new key first; then the old key "
        "can be removed. Safe to run while the app runs, and again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--chunk-size", type=int, default=500, help="Rows per transaction.")

    def handle(self, *args, chunk_size, **options):
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        try:
            counts = secrets_rotate(chunk_size=chunk_size)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        for label, count in counts.items():
            self.stdout.write(f"{label}: {count} re-encrypted")
        self.stdout.write(f"{sum(counts.values())} re-encrypted in all")
