"""Files made on the documents queue: receipts, reports, exports, import error reports.

The machinery only: the Document row (state, progress, resume point, file), the formats
(CSV, XLSX, PDF, each written in constant memory, text cells neutralised against formula
injection), storage through Django's storage API, and staff-only expiring download links.
What goes into a file is decided above, by the domain that asks for it."""
