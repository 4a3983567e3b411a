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
# bytes an uploaded import may have.
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
# The format of the scheduled daily, weekly and monthly summaries (csv, xlsx or pdf).
REPORT_SCHEDULED_FORMAT = env("REPORT_SCHEDULED_FORMAT", default="pdf")

# RECEIPTS
# ------------------------------------------------------------------------------
# Every fulfilled payment gets a PDF receipt, made on the documents queue
# (apps/payments/services/receipts.py). Its number is this prefix and the receipt's id,
# 8 digits: CNV-00000042.
from decimal import Decimal  # noqa: E402

RECEIPT_PREFIX = env("RECEIPT_PREFIX", default="CNV-")
# Prices include VAT at this rate (Kenya's standard 16 %); 0: not VAT-registered, no VAT line.
RECEIPT_VAT_RATE = env("RECEIPT_VAT_RATE", cast=Decimal, default=Decimal("0.16"))
# The seller the receipt names; the address is one line, wrapped to the page.
RECEIPT_OPERATOR_NAME = env(
    "RECEIPT_OPERATOR_NAME", default=env("OPERATOR_NAME", default="Conveyor")
)
RECEIPT_OPERATOR_ADDRESS = env("RECEIPT_OPERATOR_ADDRESS", default="")
RECEIPT_OPERATOR_TAX_PIN = env("RECEIPT_OPERATOR_TAX_PIN", default="")  # KRA PIN; empty: none

# IMPORTS
# ------------------------------------------------------------------------------
# rows staged, or applied, per chunk: each chunk is one transaction with its progress.
IMPORT_CHUNK_ROWS = env.int("IMPORT_CHUNK_ROWS", default=10000)
# A file of more rows is refused: a migration of more members is split into files.
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=1_000_000)
# min an unfinished import may go without progress before the reconciler sends it again.
IMPORT_IDLE_MINUTES = env.int("IMPORT_IDLE_MINUTES", default=15)
# days a finished import keeps its file, error report and rows (what undo reads); then
# `imports_prune` deletes them and keeps the import's counts as the record.
IMPORT_KEEP_DAYS = env.int("IMPORT_KEEP_DAYS", default=30)
