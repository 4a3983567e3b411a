"""Staging: the file read into the staging table, each row cleaned on its own (cleaning.py),
IMPORT_CHUNK_ROWS rows per transaction with the cursor (the last row read), so a run that
stops goes on after the last saved chunk."""

import logging
import time
from itertools import islice

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from apps.common.errors import ApplicationError
from apps.imports.cleaning import row_clean
from apps.imports.models import Import, ImportRow
from apps.imports.reading import rows_read
from apps.imports.sql import R, T, rows_insert

log = logging.getLogger("conveyor.imports")

Phase, Status = Import.Phase, ImportRow.Status

COLUMNS = ("import_run", "number", "phone", "name", "upline", "pending", "withdrawable")
COLUMNS += ("status", "column", "value", "reason", "opening")


def locked(imp: Import, phase: str) -> Import | None:
    """The import's row, locked for this chunk, if it is still in ``phase``."""
    found = Import.objects.select_for_update().filter(
        pk=imp.pk, state__in=Import.ACTIVE, phase=phase
    )
    return found.first()


def file_stage(imp: Import, deadline: float) -> None:
    """Stage the rows after the cursor until the file ends or the deadline passes."""
    position = imp.cursor.get("row", 0)
    with default_storage.open(imp.file.name, "rb") as handle:
        rows = rows_read(handle, fmt=imp.format, delimiter=imp.delimiter, after=position)
        while True:
            batch = list(islice(rows, settings.IMPORT_CHUNK_ROWS))
            with transaction.atomic():
                row = locked(imp, Phase.STAGE)
                if row is None or row.cursor.get("row", 0) != position:
                    return  # another run went on: the caller looks again
                if row.staged + len(batch) > settings.IMPORT_MAX_ROWS:
                    raise ApplicationError(
                        f"The file has more than {settings.IMPORT_MAX_ROWS} rows; split it."
                    )
                made = [_cleaned(imp, number, cells) for number, cells in batch]
                rows_insert(T, [getattr(R, c) for c in COLUMNS], made)
                position = batch[-1][0] if batch else position
                row.staged += len(batch)
                row.refused += sum(values[7] == Status.REFUSED for values in made)
                row.total, row.cursor = max(row.total, row.staged), {"row": position}
                if not batch:  # the file is read: the count is exact now
                    row.phase, row.total, row.cursor = Phase.VALIDATE, row.staged, {}
                row.save()
            if batch:
                log.info("import.staged id=%s rows=%s", imp.pk, row.staged)
            if not batch or time.monotonic() > deadline:
                return


def _cleaned(imp: Import, number: int, cells: list[str]) -> tuple:
    """A row's values for INSERT, in its column order."""
    clean = row_clean(cells, imp.columns, imp.width)
    status = Status.REFUSED if clean.reason else Status.STAGED
    return (
        imp.pk,
        number,
        clean.phone,
        clean.name,
        clean.upline,
        clean.pending,
        clean.withdrawable,
        status,
        clean.column,
        clean.value,
        clean.reason,
        False,
    )
