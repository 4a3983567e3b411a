"""The maturation queue: maturation and heavy batches. Pool and policy: config/queues.py."""

from config.celery import app


@app.task(bind=True)
def mature_balances(self) -> int:
    """Beat, hourly: PENDING earnings past matures_at move from pending to withdrawable,
    set-based, in chunks; past its time budget it continues in a new task. Safe to rerun
    and to overlap, as disburse_commissions."""
    from apps.wallets.services import balances_mature

    result = balances_mature(budget_seconds=self.budget())
    self.continue_with(None if result.finished else {})
    return result.rows
