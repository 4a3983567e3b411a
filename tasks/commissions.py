"""The commissions queue: disbursement. Pool and policy: config/queues.py."""

from config.celery import app


@app.task(bind=True)
def disburse_commissions(self) -> int:
    """Beat, hourly: credit PENDING commissions to withdrawable balances, set-based, in
    chunks; past its time budget it continues in a new task. Safe to rerun, and to run
    twice at once: each row is taken by one chunk, under a lock the other run skips."""
    from apps.commissions.services import DISBURSEMENT
    from apps.wallets.balances import sweep_in_task

    return sweep_in_task(self, DISBURSEMENT)
