from django.core.management.base import BaseCommand

from apps.ops.services import schedules_seed


class Command(BaseCommand):
    help = (
        "Create the beat schedules that are missing, in the database (django-celery-beat). "
        "Existing rows keep their admin edits."
    )

    def handle(self, *args, **options):
        created = schedules_seed()
        for name in created:
            self.stdout.write(f"created: {name}")
        self.stdout.write(f"Schedules: {len(created)} created.")
