"""Writes of the imports domain: start, run, resume, undo, fail, reconcile, prune (one module each
stage: starting, running, validation, applying, report, undo, pruning)."""

from apps.imports.services.pruning import imports_prune
from apps.imports.services.report import report_open
from apps.imports.services.running import import_fail, import_run
from apps.imports.services.starting import (
    import_resume,
    import_run_here,
    import_start,
    imports_reconcile,
)
from apps.imports.services.undo import import_undo

__all__ = [
    "import_fail",
    "import_resume",
    "import_run",
    "import_run_here",
    "import_start",
    "import_undo",
    "imports_prune",
    "imports_reconcile",
    "report_open",
]
