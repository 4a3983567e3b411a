"""Earnings: credited to pending with their cause, matured hourly by a set-based sweep. And
what every ledger sweep shares once it runs under a name: its continuation, and the digest
each member gets of what a run credited them."""

import logging
import time
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common.errors import ApplicationError
from apps.notifications.services import notify_members
from apps.ops.batches import batch_cancelled, batch_dispatch
from apps.wallets.balances import wallet_add
from apps.wallets.ledger_sweep import LedgerSweep, ledger_sweep_run
from apps.wallets.models import Earning, SweepChunk, SweepCredit
from apps.wallets.selectors import earning_exists, sweep_runs_untold
from apps.wallets.tallies import chunk_fold
from tasks import maturation as maturation_tasks

log = logging.getLogger("conveyor.wallets")

MATURATION = LedgerSweep(
    name="maturation.mature",
    model=Earning,
    member="member",
    source=Earning.Status.PENDING,
    target=Earning.Status.MATURED,
    stamp="matured_at",
    order_by="matures_at",
    pending_sign=-1,
    due="matures_at",
)

# The notice a sweep's digest is, by sweep name: the digest task carries only the name, and
# the disbursement sweep is defined by the commissions app, which wallets cannot import.
DIGEST_KINDS = {
    "commissions.disburse": "commissions_credited",
    MATURATION.name: "earnings_matured",
}
# A run's digests still untold this long after its first credit (their message was lost, or
# the run was abandoned and its rows taken by later runs) are sent when a later run finishes.
DIGEST_OVERDUE = timedelta(hours=1)


def balances_mature(*, run: str, budget_seconds: float) -> tuple[dict | None, int]:
    """Due PENDING earnings become MATURED, their amounts moved from pending to withdrawable,
    in chunks for at most about ``budget_seconds``: as sweep_advance."""
    return sweep_advance(MATURATION, run=run, budget_seconds=budget_seconds)


def sweep_advance(
    sweep: LedgerSweep, *, run: str, budget_seconds: float
) -> tuple[dict | None, int]:
    """Run ``sweep`` under ``run`` for about ``budget_seconds``: (the next task's arguments,
    or None when the run is finished; rows moved). A finished run queues its members'
    digests on commit, and those of earlier runs left untold for DIGEST_OVERDUE."""
    result = ledger_sweep_run(
        sweep, chunk_rows=settings.SWEEP_CHUNK_ROWS, budget_seconds=budget_seconds, run=run
    )
    if not result.finished:
        return {"run": result.run}, result.rows
    overdue = timezone.now() - DIGEST_OVERDUE
    for untold in sweep_runs_untold(sweep=sweep.name, run=result.run, before=overdue):
        digests_dispatch(sweep=sweep.name, run=untold)
    return None, result.rows


def digests_dispatch(*, sweep: str, run: str):
    """The run's digests as a batch, sent on commit: its writer is the first job and each
    chunk adds its SMS and mail sends, so the operations page shows their progress."""
    writer = maturation_tasks.send_sweep_digests.si(sweep=sweep, run=run)
    return batch_dispatch(name=f"Digests: {sweep} {run}"[:255], jobs=[writer], allow_failures=True)


def sweep_digests_notify(
    *, sweep: str, run: str, budget_seconds: float, batch_id=None
) -> tuple[dict | None, int]:
    """Tell each member what ``run`` of ``sweep`` credited them, until done or out of budget:
    (the next run's arguments or None, notices written). First the run's SweepChunk rows are
    folded into SweepCredit rows, a chunk per transaction; then each SweepCredit row is told
    in one notice, NOTIFY_CHUNK members per transaction, with its notified_at. With
    ``batch_id`` the sends are added to that batch; once it is cancelled, nobody more is told."""
    kind = DIGEST_KINDS.get(sweep)
    if kind is None:
        raise ApplicationError(f"no digest for sweep {sweep!r}; sweeps: {', '.join(DIGEST_KINDS)}")
    deadline, written = time.monotonic() + budget_seconds, 0
    while _chunk_folded(sweep, run):
        if time.monotonic() > deadline:
            return {"sweep": sweep, "run": run}, written
    while True:
        if batch_id and batch_cancelled({"id": batch_id}):
            log.info("digests.cancelled sweep=%s run=%s batch=%s", sweep, run, batch_id)
            return None, written
        told, finished = _credits_told(kind, sweep, run, batch_id)
        written += told
        if finished:
            return None, written
        if time.monotonic() > deadline:
            return {"sweep": sweep, "run": run}, written


def _chunk_folded(sweep: str, run: str) -> bool:
    """Fold the run's first SweepChunk row into its SweepCredit rows; False if none is left.
    The row is locked first, so two digest tasks of a run never fold it twice."""
    with transaction.atomic():
        chunks = SweepChunk.objects.select_for_update().filter(sweep=sweep, run=run)
        chunk = chunks.only("sweep", "run", "created_at").first()  # the credits stay in SQL
        if chunk is None:
            return False
        chunk_fold(chunk=chunk)
        chunk.delete()
    return True


def _credits_told(kind: str, sweep: str, run: str, batch_id) -> tuple[int, bool]:
    """Tell NOTIFY_CHUNK members their open SweepCredit row: (notices written, whether that
    was the last). The rows stay locked until the notices commit with their notified_at, so
    nothing folds into a row while it is told (what comes later opens a new row)."""
    with transaction.atomic():
        untold = (
            SweepCredit.objects.select_for_update(of=("self",))
            .select_related("member")
            .filter(sweep=sweep, run=run, notified_at__isnull=True)
            .order_by("member_id")[: settings.NOTIFY_CHUNK]
        )
        credits = {credit.member_id: credit for credit in untold}
        if not credits:
            return 0, True
        written = notify_members(
            members=[credit.member for credit in credits.values()],
            kind=kind,
            context_of=lambda m: {
                "name": m.name or m.phone,
                "total": str(credits[m.pk].total),
                "rows": credits[m.pk].rows,
            },
            # Per row, not per member: a row opened after the run's digest went out (see
            # SweepCredit) is told too.
            key_of=lambda m: f"digest:{sweep}:{run}:{m.pk}:{credits[m.pk].pk}",
            batch_id=batch_id,
        )
        SweepCredit.objects.filter(pk__in=[c.pk for c in credits.values()]).update(
            notified_at=timezone.now()
        )
    return written, len(credits) < settings.NOTIFY_CHUNK


def sweep_credits_prune() -> int:
    """Delete digest tallies older than HISTORY_KEEP_DAYS (told or, by then, never to be);
    how many."""
    before = timezone.now() - timedelta(days=settings.HISTORY_KEEP_DAYS)
    credits, _ = SweepCredit.objects.filter(created_at__lt=before).delete()
    chunks, _ = SweepChunk.objects.filter(created_at__lt=before).delete()
    return credits + chunks


def earning_record(
    *, member_id: int, amount: Decimal, source_kind: str, source_id: str, at: datetime
) -> Earning | None:
    """Credit ``amount`` to the member's pending balance, maturing MATURATION_HOURS after
    ``at``. Call it in the cause's transaction; None if this cause was credited already."""
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not spoil the caller's
            earning = Earning.objects.create(
                member_id=member_id,
                amount=amount,
                source_kind=source_kind,
                source_id=str(source_id),
                created_at=at,
                matures_at=at + timedelta(hours=settings.MATURATION_HOURS),
            )
    except IntegrityError:
        if earning_exists(source_kind=source_kind, source_id=str(source_id)):
            return None
        raise  # not a duplicate: a bug, not to be swallowed
    wallet_add(member_id=member_id, pending=amount)
    return earning
