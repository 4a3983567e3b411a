"""Ask for a report or export from the command line, as staff do in admin (the seeds'
``reports:generate``): it is made on the documents queue; with --wait the command follows its
progress and, with --output, copies the file out."""

import shutil
import time

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import ApplicationError
from apps.documents.models import Document, Format
from apps.documents.services import document_request
from apps.documents.sources import sources_all


class Command(BaseCommand):
    help = "Make a report or export on the documents queue; --wait follows it to the end."

    def add_arguments(self, parser):
        names = ", ".join(s.name for s in sources_all())
        parser.add_argument("source", help=f"One of: {names}.")
        parser.add_argument("--format", default=Format.CSV, choices=Format.values)
        parser.add_argument("--since", help="First day, YYYY-MM-DD (reports).")
        parser.add_argument("--until", help="Last day, YYYY-MM-DD (reports).")
        parser.add_argument("--wait", action="store_true", help="Follow it until it is made.")
        parser.add_argument("--timeout", type=float, default=3600, help="s to wait at most.")
        parser.add_argument("--output", help="With --wait: copy the file here.")

    def handle(self, *args, **options):
        try:
            document, new = document_request(
                source=options["source"],
                fmt=options["format"],
                since=options["since"],
                until=options["until"],
            )
        except ApplicationError as exc:
            raise CommandError(str(exc)) from exc
        said = "asked for" if new else "already being made"
        self.stdout.write(f"{document.title} ({document.format}): {said}, id {document.pk}")
        if not options["wait"]:
            return
        document = self._follow(document, options["timeout"])
        self.stdout.write(
            f"ready: {document.done} rows, {document.size} bytes, {document.file.name}"
        )
        if options["output"]:
            with (
                default_storage.open(document.file.name, "rb") as src,
                open(options["output"], "wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
            self.stdout.write(f"written to {options['output']}")

    def _follow(self, document: Document, timeout: float) -> Document:
        deadline, shown = time.monotonic() + timeout, None
        while True:
            document.refresh_from_db()
            if document.state == Document.State.FAILED:
                raise CommandError(f"{document.title} failed: {document.error}")
            if document.state == Document.State.READY:
                return document
            if (document.done, document.total) != shown:
                shown = (document.done, document.total)
                self.stdout.write(f"{document.state}: {document.done} of {document.total} rows")
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Not made within {timeout:.0f} s; it goes on in the background."
                )
            time.sleep(0.5)
