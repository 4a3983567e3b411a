"""Pruning finished imports: after IMPORT_KEEP_DAYS an import's uploaded file, error report
and staging rows (a row per row of the file) are deleted. The import itself stays, with its
counts, as the record that it ran; without its rows it can no longer be undone or resumed,
and both say so."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.documents import files
from apps.imports.models import Import, ImportRow

log = logging.getLogger("conveyor.imports")


def imports_prune(*, days: float | None = None) -> int:
    """Prune the imports that finished more than ``days`` (IMPORT_KEEP_DAYS) ago; how many.
    A failed import resumed meanwhile is running again (no finish time): it is kept.
    Each is one transaction; its files go once it has committed (a file left by a crash
    between the two is only a file, never a row pointing at nothing)."""
    keep = settings.IMPORT_KEEP_DAYS if days is None else days
    due = Import.objects.filter(
        finished_at__lt=timezone.now() - timedelta(days=keep), pruned_at__isnull=True
    ).exclude(state__in=Import.ACTIVE)
    count = 0
    for import_id in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            imp = due.select_for_update().filter(pk=import_id).first()
            if imp is None:  # resumed, or pruned by another run, meanwhile
                continue
            names = [imp.file.name, imp.report.name]
            ImportRow.objects.filter(import_run=imp).delete()
            imp.file, imp.report, imp.pruned_at = "", "", timezone.now()
            imp.save(update_fields=["file", "report", "pruned_at", "updated_at"])
        for name in names:
            files.stored_delete(name)
        count += 1
    if count:
        log.info("imports.pruned count=%s keep_days=%s", count, keep)
    return count


def unpruned_check(imp: Import, doing: str) -> None:
    """ApplicationError if ``imp`` was pruned: what ``doing`` needs is gone."""
    if imp.pruned_at is not None:
        raise ApplicationError(
            f"Import {imp.pk} cannot be {doing}: its file and rows were deleted on "
            f"{imp.pruned_at:%Y-%m-%d} (kept IMPORT_KEEP_DAYS after it ran). Nothing was changed."
        )
