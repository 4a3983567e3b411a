"""Receipts of fulfilled payments (apps.payments)."""

from config.celery import app


@app.task
def make_receipt_for_event(event_id: str, payload: dict | None = None) -> str | None:
    """Listener of payment_processed (config/events.py): the payment's receipt PDF. Safe to
    rerun: the receipt is numbered once and drawn again to the same bytes, same name."""
    from apps.payments.services import receipt_make_for_event

    receipt = receipt_make_for_event(event_id=int(event_id), payload=payload)
    return receipt and receipt.number


@app.task(unique_for=600)
def make_receipt(payment_id: str) -> str:
    """From `receipts_make --missing` and the admin's "Regenerate receipt": (re)make a fulfilled
    payment's receipt. Safe to rerun, as above; one waits per payment however often asked."""
    from apps.payments.services import receipt_make

    return receipt_make(payment_id=payment_id).number
