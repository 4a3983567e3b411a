"""The commissions queue: disbursement. Pool and policy: config/queues.py."""

from config.celery import app


@app.task(bind=True)
def disburse_commissions(self) -> int:
    """Beat, hourly: credit PENDING commissions to withdrawable balances, set-based, in
    chunks; past its time budget it continues in a new task. Safe to rerun, and to run
    twice at once: each row is taken by one chunk, under a lock the other run skips."""
    from apps.commissions.services import commissions_disburse

    result = commissions_disburse(budget_seconds=self.budget())
    self.continue_with(None if result.finished else {})
    return result.rows
