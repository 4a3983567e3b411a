"""The maturation queue: maturation and heavy batches. Pool and policy: config/queues.py."""

from config.celery import app


@app.task(bind=True, without_overlapping="maturation:mature", overlap="skip")
def mature_balances(self, run: str = "") -> int:
    """Beat, hourly: PENDING earnings past matures_at move from pending to withdrawable,
    set-based, in chunks; past its time budget it continues in a new task of the same run,
    and the run's digests follow it. Not two runs at once, and safe to rerun and to overlap
    all the same, as disburse_commissions."""
    from apps.wallets.services import balances_mature

    # Beat starts a run with no arguments; its continuations carry its id.
    remaining, rows = balances_mature(run=run or self.request.id, budget_seconds=self.budget())
    self.continue_with(remaining)
    return rows


@app.task(bind=True)
def send_sweep_digests(self, sweep: str, run: str) -> int:
    """After a disbursement or maturation run finishes: one notice per member it credited, for
    the whole run (a heavy batch, so here rather than on the notifications queue, whose pool
    delivers). The first job of the run's digest batch, to which each chunk adds its sends.
    Safe to rerun: each member's credit is marked told with its notices, in one transaction,
    and each notice has a key."""
    from apps.ops.batches import batch_of
    from apps.wallets.services import sweep_digests_notify

    remaining, written = sweep_digests_notify(
        sweep=sweep, run=run, budget_seconds=self.budget(), batch_id=batch_of(self.request)
    )
    self.continue_with(remaining)
    return written
