"""Reads of the documents domain."""

import uuid

from apps.documents.models import Document


def document_get(*, document_id) -> Document | None:
    """The document, or None (for an id that is not one, too)."""
    try:
        key = uuid.UUID(str(document_id))
    except ValueError:
        return None
    return Document.objects.filter(pk=key).first()


def document_progress(document: Document) -> dict:
    """What the page polls: state, rows done of total, percent, error."""
    return {
        "id": str(document.pk),
        "title": document.title,
        "state": document.state,
        "done": document.done,
        "total": document.total,
        "percent": document.percent,
        "size": document.size,
        "error": document.error,
    }


def documents_recent(*, limit: int = 8) -> list[Document]:
    return list(Document.objects.order_by("-created_at")[:limit])


def documents_panel() -> dict:
    """The operations page's panel: the latest documents and their progress."""
    return {
        "columns": ["document", "format", "state", "rows", "of", "%"],
        "rows": [
            [d.title, d.format, d.state, d.done, d.total, d.percent] for d in documents_recent()
        ],
        "progress_column": 5,
    }
