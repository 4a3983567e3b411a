"""The documents queue: receipts, reports on demand, imports and exports. Pool and policy:
config/queues.py (pool 1, limits 540/600 s, 2 attempts); long work continues in chunks
(Task.continue_with)."""

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


@app.task
def make_receipt_for_event(event_id: str) -> str | None:
    """Listener of payment_processed (config/events.py): the payment's receipt PDF. Safe to
    rerun: the receipt is numbered once and drawn again to the same bytes, same name."""
    from apps.payments.services import receipt_make_for_event

    receipt = receipt_make_for_event(event_id=int(event_id))
    return receipt and receipt.number


@app.task(unique_for=600)
def make_receipt(payment_id: str) -> str:
    """From `receipts_make --missing` and the admin's "Regenerate receipt": (re)make a fulfilled
    payment's receipt. Safe to rerun, as above; one waits per payment however often asked."""
    from apps.payments.services import receipt_make

    return receipt_make(payment_id=payment_id).number


def _import_failed(task, exc, args, kwargs) -> None:
    from apps.imports.services import import_fail

    import_fail(import_id=kwargs["import_id"], error=f"{type(exc).__name__}: {exc}")


# One import at a time ("imports"): every run of an import owns the lock with its token.
@app.task(bind=True, without_overlapping="imports", final_failure=_import_failed)
def import_members(self, import_id: int) -> None:
    """After a members file is uploaded, resumed, or found idle by the reconciler: stage,
    validate, apply and report it, a chunk at a time. Safe to rerun: each chunk is one
    transaction with the cursor it moves, so a rerun goes on from the last one."""
    from apps.imports.services import import_run

    self.continue_with(import_run(import_id=import_id, budget_seconds=self.budget()))
