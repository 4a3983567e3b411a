"""Pruning: a finished import older than IMPORT_KEEP_DAYS loses its file, error report and
rows, keeps its counts and what it imported, and can then be neither undone nor resumed."""

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from apps.commissions.audit import ledger_audit
from apps.common.errors import ApplicationError
from apps.imports.models import Import, ImportRow
from apps.imports.services import import_resume, import_undo, imports_prune
from tests.apps.imports.conftest import csv_bytes, finished, snapshot, start

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def aged(imp: Import, days: float, **fields) -> None:
    """As if ``imp`` had run and finished ``days`` ago."""
    then = timezone.now() - timedelta(days=days)
    Import.objects.filter(pk=imp.pk).update(created_at=then, finished_at=then, **fields)


def test_an_old_finished_import_is_pruned_once_and_its_members_stay(documents_worker):
    imp = finished(start(csv_bytes(["0712300001,Root,,10,5", "0712300002,Bad,0799999999,1,1"])))
    assert (imp.state, imp.created, imp.refused) == ("done", 1, 1)
    names = [imp.file.name, imp.report.name]
    assert all(default_storage.exists(name) for name in names)
    after = snapshot()

    aged(imp, 29)
    assert imports_prune(days=30) == 0  # not old enough
    aged(imp, 31)
    assert imports_prune(days=30) == 1

    imp.refresh_from_db()
    assert imp.pruned_at is not None and not imp.file and not imp.report
    assert (imp.state, imp.created, imp.refused, imp.total) == ("done", 1, 1, 2)
    assert not ImportRow.objects.filter(import_run=imp).exists()
    assert not any(default_storage.exists(name) for name in names)
    assert snapshot() == after and ledger_audit().ok
    with pytest.raises(ApplicationError, match="cannot be undone: its file and rows were deleted"):
        import_undo(import_id=imp.pk)
    assert snapshot() == after
    assert imports_prune(days=30) == 0  # pruned already


def test_a_failed_import_pruned_cannot_be_resumed_and_a_running_one_is_kept(documents_worker):
    failed = finished(start(csv_bytes(["0712300011,One,,0,0"])))
    running = finished(start(csv_bytes(["0712300012,Two,,0,0"])))
    aged(failed, 40, state=Import.State.FAILED)
    aged(running, 40, state=Import.State.RUNNING)  # as if its run died: the reconciler's, not ours

    assert imports_prune(days=30) == 1

    running.refresh_from_db()
    assert running.pruned_at is None and ImportRow.objects.filter(import_run=running).exists()
    with pytest.raises(ApplicationError, match="cannot be resumed"):
        import_resume(import_id=failed.pk, send=False)
    failed.refresh_from_db()
    assert failed.state == "failed"
