import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.env import VAR_DIR


class Command(BaseCommand):
    help = (
        "Run Flower behind FLOWER_URL_PREFIX with basic auth (FLOWER_BASIC_AUTH=user:password, "
        "required) and its state kept in var/flower.db. Replaces this process."
    )

    def handle(self, *args, **options):
        user, _, password = settings.FLOWER_BASIC_AUTH.partition(":")
        if not user or not password:
            raise CommandError(
                "Flower shows every task's arguments: set FLOWER_BASIC_AUTH=user:password "
                "(several: comma-separated) before starting it."
            )
        command = [
            "celery",
            "-A",
            "config",
            "flower",
            f"--address={settings.FLOWER_ADDRESS}",
            f"--port={settings.FLOWER_PORT}",
            f"--url_prefix={settings.FLOWER_URL_PREFIX}",
            "--persistent=True",
            f"--db={VAR_DIR / 'flower.db'}",
            f"--enable-events={str(settings.CELERY_WORKER_SEND_TASK_EVENTS).lower()}",
        ]
        # Flower's root answers 404: it serves only under the prefix.
        self.stdout.write(
            f"Flower at http://{settings.FLOWER_ADDRESS}:{settings.FLOWER_PORT}/"
            f"{settings.FLOWER_URL_PREFIX}/"
        )
        self.stdout.flush()
        os.execvp(command[0], command)  # noqa: S606  (our own fixed command line)
