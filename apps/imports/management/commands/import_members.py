import json
import shutil
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.common.errors import ApplicationError
from apps.imports.models import Import
from apps.imports.selectors import import_get, import_progress
from apps.imports.services import (
    import_resume,
    import_run_here,
    import_start,
    import_undo,
    report_open,
)

POLL = 1.0  # s between looks at the progress
HINT_AFTER = 30  # s queued before saying that no worker has taken it


class Command(BaseCommand):
    help = (
        "Import members, uplines and opening balances from a CSV (UTF-8) or XLSX file with "
        "the columns phone, name, upline_phone, pending, withdrawable. The import runs on the "
        "documents queue; this waits for it and prints its progress. Refused rows go to an "
        "error report (CSV). Exit status 1 if the file is refused or the import fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="The CSV or XLSX file.")
        parser.add_argument("--resume", type=int, metavar="ID", help="Go on with import ID.")
        parser.add_argument("--undo", type=int, metavar="ID", help="Undo import ID.")
        parser.add_argument("--status", type=int, metavar="ID", help="Show import ID.")
        parser.add_argument(
            "--no-wait", action="store_true", help="Queue it and return (print its id)."
        )
        parser.add_argument(
            "--inline",
            action="store_true",
            help="Run it in this process instead of on a worker (no worker needed).",
        )
        parser.add_argument(
            "--report",
            metavar="PATH",
            help="Where to write the error report (default: import-<ID>-errors.csv here).",
        )
        parser.add_argument("--json", action="store_true", help="Print the outcome as JSON.")

    def handle(self, *args, **options):
        chosen = [k for k in ("file", "resume", "undo", "status") if options[k] is not None]
        if len(chosen) != 1:
            raise CommandError("Give one of: FILE, --resume ID, --undo ID, --status ID.")
        try:
            imp = self._start(options)
            if imp is None:
                return
            if options["inline"]:
                self._inline(imp)
            elif options["no_wait"]:
                self.stdout.write(f"import {imp.pk} queued")
                return
            imp = self._wait(imp, quiet=options["json"])
        except ApplicationError as exc:
            raise CommandError(str(exc), returncode=1) from None
        self._outcome(imp, options)

    def _start(self, options) -> Import | None:
        send = not options["inline"]
        if options["undo"] is not None:
            imp = import_undo(import_id=options["undo"])
            self.stdout.write(
                f"import {imp.pk} undone: {imp.created} members and their opening balances removed"
            )
            return None
        if options["status"] is not None:
            imp = import_get(import_id=options["status"])
            self._outcome(imp, options, report=bool(options["report"]))
            return None
        if options["resume"] is not None:
            return import_resume(import_id=options["resume"], send=send)
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        with path.open("rb") as handle:
            imp, new = import_start(handle=handle, filename=path.name, send=send)
        if not new:
            self.stdout.write(f"import {imp.pk} of this file is unfinished: going on with it")
        for warning in imp.warnings:
            self.stdout.write(self.style.WARNING(warning))
        return imp

    def _inline(self, imp: Import) -> None:
        import_run_here(import_id=imp.pk, progress=lambda: self._line(import_get(import_id=imp.pk)))

    def _wait(self, imp: Import, quiet: bool) -> Import:
        last, since, hinted = None, time.monotonic(), False
        while True:
            imp = import_get(import_id=imp.pk)
            if not quiet:
                self._line(imp)
            moved = (imp.phase, imp.staged, imp.applied)
            if moved != last:
                last, since = moved, time.monotonic()
            if imp.state not in Import.ACTIVE:
                return imp
            if not hinted and time.monotonic() - since > HINT_AFTER:
                hinted = True
                self.stdout.write(
                    "No progress yet: is a documents worker running (`queue_monitor "
                    "documents`)? Ctrl-C leaves it queued; `--inline` runs it here."
                )
            time.sleep(POLL)

    def _line(self, imp: Import) -> str:
        """Print the progress if it moved since the last line; the line."""
        text = (
            f"import {imp.pk}: {imp.state} {imp.phase} {imp.percent:.0f}% "
            f"(staged {imp.staged}, validated {imp.validated}, applied {imp.applied}, "
            f"refused {imp.refused} of {imp.total})"
        )
        if getattr(self, "_printed", None) != text:
            self._printed = text
            self.stdout.write(text)
        return text

    def _outcome(self, imp: Import, options, report: bool = True) -> None:
        report = self._report(imp, options["report"]) if imp.report and report else None
        if options["json"]:
            data = {**import_progress(imp), "report_path": report and str(report)}
            self.stdout.write(json.dumps(data, indent=2))
        else:
            self.stdout.write(
                f"import {imp.pk} {imp.state}: {imp.total} rows, {imp.created} created, "
                f"{imp.unchanged} unchanged, {imp.refused} refused, {imp.openings} opening "
                "balances recorded"
            )
            if report:
                self.stdout.write(f"error report (row, column, value, reason): {report}")
        if imp.state == Import.State.FAILED:
            raise CommandError(
                f"import {imp.pk} failed: {imp.error} (`--resume {imp.pk}` goes on)", returncode=1
            )

    def _report(self, imp: Import, path: str | None) -> Path:
        target = Path(path or f"import-{imp.pk}-errors.csv")
        with report_open(imp) as source, target.open("wb") as out:
            shutil.copyfileobj(source, out)
        return target
