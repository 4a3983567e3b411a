"""Reports and exports (apps.documents), a chunk at a time."""

from config.celery import app


def _document_failed(task, exc, args, kwargs) -> None:
    from apps.documents.services import document_fail

    document_fail(document_id=kwargs["document_id"], error=f"{type(exc).__name__}: {exc}")


@app.task(
    bind=True,
    without_overlapping="document:{document_id}",
    final_failure=_document_failed,
)
def build_document(self, document_id: str) -> None:
    """After a report or export is asked for (and by the documents reconciler): make it, a chunk
    at a time. Safe to rerun: it goes on from the last saved chunk, and two never overlap."""
    from apps.documents.services import document_build

    self.continue_with(document_build(document_id=document_id, budget_seconds=self.budget()))
