"""The commissions queue: disbursement. Pool and policy: config/queues.py."""

from config.celery import app


@app.task(bind=True, without_overlapping="commissions:disburse", overlap="skip")
def disburse_commissions(self, run: str = "") -> int:
    """Beat, hourly: credit PENDING commissions to withdrawable balances, set-based, in
    chunks; past its time budget it continues in a new task of the same run, and the run's
    digests follow it. A run that starts while another runs is skipped (logged task.skipped);
    its continuations hold the lock. Safe to rerun, and to run twice at once should the lock
    have expired: each row is taken by one chunk, under a row lock the other run skips, and
    tallied in the same statement."""
    from apps.commissions.services import commissions_disburse

    # Beat starts a run with no arguments; its continuations carry its id.
    remaining, rows = commissions_disburse(run=run or self.request.id, budget_seconds=self.budget())
    self.continue_with(remaining)
    return rows
