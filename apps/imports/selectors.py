"""Reads of the imports domain: an import, its progress, its refused rows."""

from apps.common.errors import ApplicationError
from apps.imports.models import Import, ImportRow


def import_get(*, import_id) -> Import:
    imp = Import.objects.filter(pk=import_id).first() if str(import_id).isdigit() else None
    if imp is None:
        raise ApplicationError(f"There is no import {import_id}.")
    return imp


def import_progress(imp: Import) -> dict:
    """What the admin page polls and the command prints."""
    return {
        "id": imp.pk,
        "file": imp.filename,
        "state": imp.state,
        "phase": imp.phase,
        "percent": imp.percent,
        "total": imp.total,
        "staged": imp.staged,
        "validated": imp.validated,
        "applied": imp.applied,
        "created": imp.created,
        "unchanged": imp.unchanged,
        "refused": imp.refused,
        "openings": imp.openings,
        "warnings": imp.warnings,
        "error": imp.error,
        "report": bool(imp.report),
        "pruned_at": imp.pruned_at and imp.pruned_at.isoformat(),
        "finished": imp.state not in Import.ACTIVE,
    }


def import_refusals(imp: Import, limit: int = 20) -> list[ImportRow]:
    """The first refused rows, for a glance (the report has them all)."""
    refused = ImportRow.objects.filter(import_run=imp, status=ImportRow.Status.REFUSED)
    return list(refused.order_by("number")[:limit])


def imports_panel() -> dict:
    """The operations page's panel: the latest imports and their progress."""
    latest = Import.objects.order_by("-created_at")[:5]
    return {
        "columns": ["import", "state", "phase", "created", "refused", "of", "%"],
        "rows": [
            [i.filename, i.state, i.phase, i.created, i.refused, i.total, i.percent] for i in latest
        ],
        "progress_column": 6,
    }
