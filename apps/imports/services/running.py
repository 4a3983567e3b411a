"""An import's run: stage → validate → apply → report, a chunk at a time until its budget is
spent, each chunk one transaction that saves its rows, counts and cursor together.

Every chunk first locks the import's row and reads the cursor there, so two runs of one
import at once (a re-nudge while the first still lives) take turns per chunk and never do
one twice; a run killed at any instant loses only its chunk in flight."""

import logging
import time

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.imports.models import Import, ImportRow
from apps.imports.services.applying import chunk_apply, chunk_next
from apps.imports.services.report import report_write
from apps.imports.services.staging import file_stage, locked
from apps.imports.services.validation import rows_validate

log = logging.getLogger("conveyor.imports")

Phase, State, Status = Import.Phase, Import.State, ImportRow.Status


def import_run(*, import_id: int, budget_seconds: float) -> dict | None:
    """Work on the import until it is finished or ``budget_seconds`` are spent: the next
    run's arguments, or None once it is done (or not there to run)."""
    deadline = time.monotonic() + budget_seconds
    while True:
        imp = Import.objects.filter(pk=import_id, state__in=Import.ACTIVE).first()
        if imp is None or imp.phase == Phase.FINISHED:
            return None
        if imp.state == State.QUEUED:
            Import.objects.filter(pk=imp.pk, state=State.QUEUED).update(
                state=State.RUNNING, started_at=timezone.now()
            )
        try:
            PHASES[imp.phase](imp, deadline)
        except ApplicationError as exc:  # the file itself is at fault: nothing to retry
            import_fail(import_id=import_id, error=str(exc))
            return None
        if time.monotonic() > deadline:
            active = Import.objects.filter(pk=import_id, state__in=Import.ACTIVE)
            return {"import_id": import_id} if active.exists() else None


def _validate(imp: Import, deadline: float) -> None:
    """One transaction: every row decided, or (killed) none."""
    with transaction.atomic():
        row = locked(imp, Phase.VALIDATE)
        if row is None:
            return
        counts = rows_validate(import_id=imp.pk)
        row.validated, row.refused = row.total, counts.get(Status.REFUSED, 0)
        row.unchanged = counts.get(Status.UNCHANGED, 0)
        row.phase, row.cursor = Phase.APPLY, {"depth": -1, "row": 0, "refused": row.refused}
        row.save()
    log.info("import.validated id=%s counts=%s", imp.pk, counts)


def _apply(imp: Import, deadline: float) -> None:
    """Chunks of IMPORT_CHUNK_ROWS rows in (depth, row) order, each one transaction."""
    while True:
        with transaction.atomic():
            row = locked(imp, Phase.APPLY)
            if row is None:
                return
            cursor = row.cursor
            after = (cursor["depth"], cursor["row"])
            found = chunk_next(imp.pk, after, settings.IMPORT_CHUNK_ROWS)
            if found:
                late = row.refused > cursor["refused"]  # rows refused since the validation
                row.applied += len(found) - chunk_apply(imp.pk, after, found, late=late)
                row.cursor = {**cursor, "depth": found[-1][0], "row": found[-1][1]}
            else:
                row.phase, row.cursor = Phase.REPORT, {}
            _counted(row)
            row.save()
        if found:
            log.info("import.applied id=%s rows=%s", imp.pk, row.applied)
        if not found or time.monotonic() > deadline:
            return


def _counted(imp: Import) -> None:
    """Outcomes from the rows, in the chunk's transaction, so they always agree."""
    rows = ImportRow.objects.filter(import_run=imp).values("status").order_by()
    n = dict.fromkeys(Status.values, 0) | {
        r["status"]: r["n"] for r in rows.annotate(n=Count("id"))
    }
    imp.created, imp.unchanged, imp.refused = n["created"], n["unchanged"], n["refused"]
    imp.openings = ImportRow.objects.filter(import_run=imp, opening=True).count()


def _report(imp: Import, deadline: float) -> None:
    name = report_write(imp) if imp.refused else ""
    with transaction.atomic():
        row = locked(imp, Phase.REPORT)
        if row is None:
            return
        row.report.name = name
        row.phase, row.state, row.finished_at = Phase.FINISHED, State.DONE, timezone.now()
        row.save()
    log.info(
        "import.done id=%s created=%s unchanged=%s refused=%s openings=%s",
        imp.pk,
        row.created,
        row.unchanged,
        row.refused,
        row.openings,
    )


PHASES = {
    Phase.STAGE: file_stage,
    Phase.VALIDATE: _validate,
    Phase.APPLY: _apply,
    Phase.REPORT: _report,
}


def import_fail(*, import_id: int, error: str) -> None:
    """The import stops: the file is at fault, or its task failed for good. What it applied
    stays (whole chunks); a resume goes on from its cursor, an undo removes it."""
    Import.objects.filter(pk=import_id, state__in=Import.ACTIVE).update(
        state=State.FAILED, error=error[:2000], finished_at=timezone.now()
    )
    log.warning("import.failed id=%s error=%s", import_id, error)
