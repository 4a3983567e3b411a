"""The error report: one line per refused row (row, column, value, reason), in row order, in
the documents' CSV (UTF-8 with a byte order mark, every text cell neutralised against formula
injection), written in one go and stored beside the import."""

from django.core.files.storage import default_storage

from apps.documents import files
from apps.documents.models import Format
from apps.documents.writers import writer_open
from apps.imports.models import Import, ImportRow

COLUMNS = ("row", "column", "value", "reason")
CHUNK = 5000


def report_write(imp: Import) -> str:
    """Write the refused rows' report; its name in storage."""
    path = files.work_path(f"import-{imp.pk}-errors.csv")
    writer = writer_open(Format.CSV, path, columns=COLUMNS, title="")
    refused = ImportRow.objects.filter(import_run=imp, status=ImportRow.Status.REFUSED)
    lines = refused.order_by("number").values_list("number", "column", "value", "reason")
    batch = []
    for number, column, value, reason in lines.iterator(chunk_size=CHUNK):
        batch.append((number, column or "(row)", value, reason))
        if len(batch) == CHUNK:
            writer.write(batch)
            batch = []
    writer.write(batch)
    writer.close()
    name = f"imports/{imp.pk}/import-{imp.pk}-errors.csv"
    files.stored_delete(name)  # a run killed after storing it wrote it once already
    stored, _size, _digest = files.store(path, name)
    return stored


def report_open(imp: Import):
    return default_storage.open(imp.report.name, "rb")
