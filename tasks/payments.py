"""The payments queue: STK requests, callbacks' follow-up, reconciliation.
Pool and policy: config/queues.py. Every task takes ids as keyword arguments and is safe
to run twice. A task is named after its service, verb first: fulfil_payment runs
payment_fulfil."""

from config.celery import app


def _push_failed(task, exc, args, kwargs) -> None:
    from apps.payments.services import payment_fail

    payment_fail(
        payment_id=kwargs["payment_id"], code="push_failed", desc=f"STK push not sent: {exc}"
    )


@app.task(final_failure=_push_failed)
def request_stk_push(payment_id: str) -> None:
    """After a purchase commits (or the reconciler finds it unpushed): ask Daraja for the STK
    prompt. Safe to rerun: a payment with an accepted push, or no longer pending, is skipped."""
    from apps.payments.services import payment_request_stk_push

    payment_request_stk_push(payment_id=payment_id)


def _fulfil_failed(task, exc, args, kwargs) -> None:
    from apps.payments.services import payment_fulfil_failed

    payment_fulfil_failed(payment_id=kwargs["payment_id"], error=f"{type(exc).__name__}: {exc}")


@app.task(final_failure=_fulfil_failed)
def fulfil_payment(payment_id: str) -> None:
    """After a payment is PAID: fulfil it and hand it to provisioning. Safe to rerun: only a
    PAID payment moves, under a row lock, so the hand-off happens once."""
    from apps.payments.services import payment_fulfil

    payment_fulfil(payment_id=payment_id)


@app.task
def settle_stk_by_query(stk_request_id: str) -> None:
    """From the reconciler, for a push with no callback: settle it by Daraja's STK query.
    Safe to rerun: a payment no longer pending is left alone."""
    from apps.payments.services import stk_request_settle_by_query

    stk_request_settle_by_query(stk_request_id=int(stk_request_id))


@app.task(unique_for=300)
def reconcile_payments() -> dict:
    """Beat, every minute: query, re-send or expire payments stuck on the way. Safe to rerun:
    each payment it touches is claimed by a conditional update first."""
    from apps.payments.services import payments_reconcile

    return payments_reconcile()
