"""Documents: receipts, reports on demand, exports, imports (the documents queue)."""

from config.env import VAR_DIR, env

# Files go through Django's storage API (STORAGES["default"]): the file system under
# MEDIA_ROOT unless STORAGES is pointed at django-storages' S3 backend (README, "Documents").
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"  # never served: every file is read through a view that checks access
# Where a document is written before it is stored (a chunk at a time, resumable).
DOCUMENTS_WORK_DIR = env("DOCUMENTS_WORK_DIR", default=str(VAR_DIR / "documents"))
# h a "ready" link to a report or export stays valid; it also needs a staff login.
DOCUMENT_LINK_HOURS = env.int("DOCUMENT_LINK_HOURS", default=24)
# days a report or export is kept before `documents_prune` deletes it and its file.
DOCUMENT_KEEP_DAYS = env.int("DOCUMENT_KEEP_DAYS", default=30)
# rows read and written per chunk; progress and the resume point are saved after each.
DOCUMENT_CHUNK = env.int("DOCUMENT_CHUNK", default=5000)
# A PDF of more rows is refused (ask for CSV or XLSX): a PDF is for reading, and ReportLab
# keeps every page until the file is saved.
DOCUMENT_PDF_MAX_ROWS = env.int("DOCUMENT_PDF_MAX_ROWS", default=20000)
# bytes an uploaded import may have.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
# The format of the scheduled daily, weekly and monthly summaries (csv, xlsx or pdf).
REPORT_SCHEDULED_FORMAT = env("REPORT_SCHEDULED_FORMAT", default="pdf")
