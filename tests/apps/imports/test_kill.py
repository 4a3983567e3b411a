"""A worker SIGKILLed mid-import: the chunk in flight rolls back whole, and the import finishes
once it runs again (the message Celery redelivers, or a resume after a new worker started)
with no member, earning or credit twice and audit_ledger holding."""

import os
import signal

import pytest

from apps.accounts.models import MAX_UPLINE_DEPTH, Member
from apps.commissions.audit import ledger_audit
from apps.imports.models import Import
from apps.imports.services import import_resume
from apps.imports.services.starting import LOCK
from apps.ops import locks
from apps.wallets.models import Earning, Wallet
from devstack.members_file import members_csv, members_rows
from devstack.processes import wait_for
from tests.apps.imports.conftest import finished, start, worker_env
from tests.support.workers import ProbeWorker, held, kill_holding

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COUNT = 20_000
# Small chunks, each its own task (a continuation per chunk): the kill lands between or
# inside them, with many left.
ENV = {"IMPORT_CHUNK_ROWS": "500", "TASK_BUDGET_SHARE": "0"}


def planned_file(tmp_path):
    planned = members_rows(COUNT, deep=(120,), seed=5)
    return planned, members_csv(tmp_path / "members.csv", planned)


def applying(imp: Import, rows: int) -> bool:
    imp.refresh_from_db()
    return imp.phase == Import.Phase.APPLY and imp.applied >= rows


def imported_once(imp: Import, planned) -> None:
    kept = [p for p in planned if p.depth <= MAX_UPLINE_DEPTH]
    assert imp.state == "done", imp.error
    assert imp.created == len(kept) == Member.objects.count()
    assert dict(Member.objects.values_list("phone", "referred_by__phone")) == {
        p.phone: p.upline for p in kept
    }
    rows = sum(bool(p.pending) + bool(p.withdrawable) for p in kept)
    assert Earning.objects.count() == rows  # each opening once
    assert Wallet.objects.count() == sum(1 for p in kept if p.pending or p.withdrawable)
    assert ledger_audit().ok


def test_a_worker_killed_mid_import_finishes_it_once_resumed(
    tmp_path, media, redis_client, empty_queues
):
    planned, path = planned_file(tmp_path)
    before = set(held(redis_client, "documents"))
    worker = ProbeWorker(tmp_path, queue_names=["documents"], env=worker_env(media, **ENV))
    worker.start()
    imp = start(path)
    wait_for(lambda: applying(imp, 3_000), timeout=120, interval=0.01, what="the apply phase")

    interrupted = kill_holding(worker, redis_client, "documents", before)

    # Each chunk is its own task: the kill may land inside one (held, so redelivered) or
    # between two (the next is still queued); either way nothing else was held.
    assert {m.task for m in interrupted} <= {"tasks.documents.imports.import_members"}
    imp.refresh_from_db()
    assert 0 < imp.applied < imp.total - imp.refused, imp.applied
    assert imp.applied == Member.objects.count()  # what is counted is what was made
    assert ledger_audit().ok  # the chunk in flight rolled back whole
    assert locks.holder(LOCK) == imp.token  # the dead run's lock, until its TTL

    replacement = ProbeWorker(tmp_path, queue_names=["documents"], env=worker_env(media, **ENV))
    replacement.start()
    try:
        import_resume(import_id=imp.pk)  # `import_members --resume ID`, admin's Resume
        imp = finished(imp, timeout=180)
    finally:
        replacement.stop()
    imported_once(imp, planned)
    assert not redis_client.exists(f"lock:{LOCK}")  # freed at the end


def test_a_killed_worker_child_is_rerun_by_its_worker_to_the_end(
    tmp_path, media, redis_client, empty_queues
):
    planned, path = planned_file(tmp_path)
    worker = ProbeWorker(tmp_path, queue_names=["documents"], env=worker_env(media, **ENV))
    worker.start()
    try:
        imp = start(path)
        wait_for(lambda: applying(imp, 3_000), timeout=120, interval=0.01, what="applying")
        (child,) = worker.children()
        wait_for(lambda: held(redis_client, "documents"), interval=0.005, what="a chunk held")
        os.kill(child, signal.SIGKILL)  # the main process redelivers the message it held
        imp = finished(imp, timeout=180)
    finally:
        worker.stop()
    imported_once(imp, planned)
