"""The reconciler (beat, every 5 minutes) sends again an unfinished import that stopped moving,
unless an import holds the lock (a live run, or a dead one's until its TTL)."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.imports.models import Import
from apps.imports.services import import_start, imports_reconcile
from apps.imports.services.starting import LOCK
from apps.ops import locks
from tests.apps.imports.conftest import csv_bytes, finished

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_idle_import_is_sent_again_when_no_import_holds_the_lock(documents_worker):
    imp, _ = import_start(
        handle=io.BytesIO(csv_bytes(["0712600001,A,,1,0"])), filename="m.csv", send=False
    )
    assert imports_reconcile() == 0  # not idle yet
    Import.objects.filter(pk=imp.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    locks.take(LOCK, "someone-else", 60)
    try:
        assert imports_reconcile() == 0  # another import runs: this one waits its turn
    finally:
        locks.free(LOCK, "someone-else")

    assert imports_reconcile() == 1
    assert finished(imp).state == "done" and imp.created == 1
