"""Starting an import (the file checked, stored and queued), sending it again (resume, and the
reconciler for runs that died), all through one task on the documents queue.

Imports run one at a time (the task's ``imports`` lock): two files touching the same members
and uplines must not interleave. Every run of one import owns that lock with the import's own
token, so a run sent again after its worker died takes over the lock at once instead of
waiting for it to expire; the database row lock per chunk keeps two such runs from doing any
chunk twice."""

import contextlib
import logging
import os
import uuid
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.common import redis_client
from apps.common.errors import ApplicationError
from apps.imports.models import Import
from apps.imports.reading import file_check
from apps.imports.services.pruning import unpruned_check
from apps.imports.services.running import import_run
from apps.ops import locks

log = logging.getLogger("conveyor.imports")

# The lock tasks.documents.imports.import_members holds (without_overlapping).
LOCK = "overlap:imports"


def import_start(
    *, handle, filename: str, requested_by_id: int | None = None, send: bool = True
) -> tuple[Import, bool]:
    """Check ``handle`` (a binary file) and queue its import: (the import, whether it is new).
    The same file while its import is unfinished is that import, sent again. ApplicationError
    says what is wrong with a file; nothing is stored for one."""
    facts = file_check(handle)
    with transaction.atomic():
        active = Import.objects.filter(sha256=facts.sha256, state__in=Import.ACTIVE).first()
        if active is not None:
            if send:
                _send(active)
            return active, False
        handle.seek(0)
        base = os.path.basename(filename) or "members"
        stored = default_storage.save(
            f"imports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}/{base}", File(handle)
        )
        try:
            with transaction.atomic():
                imp = Import.objects.create(
                    filename=base[:255],
                    file=stored,
                    requested_by_id=requested_by_id,
                    **asdict(facts),
                )
        except IntegrityError:  # the same file at the same instant
            default_storage.delete(stored)
            return Import.objects.get(sha256=facts.sha256, state__in=Import.ACTIVE), False
        if send:
            _send(imp)
    log.info("import.queued id=%s file=%s rows=%s", imp.pk, imp.filename, imp.total)
    return imp, True


def _send(imp: Import) -> None:
    from tasks.documents import imports as import_tasks
    from tasks.workflow import OVERLAP

    def send() -> None:
        import_tasks.import_members.apply_async(
            kwargs={"import_id": imp.pk}, headers={OVERLAP: imp.token}
        )

    transaction.on_commit(send, robust=True)


def import_resume(*, import_id: int, send: bool = True) -> Import:
    """Send an unfinished or failed import again: it goes on from its last chunk. Safe while
    a run is alive (they take turns per chunk)."""
    with transaction.atomic():
        imp = Import.objects.select_for_update().filter(pk=import_id).first()
        if imp is None:
            raise ApplicationError(f"There is no import {import_id}.")
        if imp.state not in (*Import.ACTIVE, Import.State.FAILED):
            raise ApplicationError(f"Import {import_id} is {imp.state}: nothing to resume.")
        if imp.state == Import.State.FAILED:
            unpruned_check(imp, "resumed")
            if Import.objects.filter(sha256=imp.sha256, state__in=Import.ACTIVE).exists():
                raise ApplicationError("The same file is being imported again already.")
            imp.state, imp.error, imp.finished_at = Import.State.RUNNING, "", None
            imp.save(update_fields=["state", "error", "finished_at", "updated_at"])
        if send:
            _send(imp)
    log.info("import.resumed id=%s phase=%s", imp.pk, imp.phase)
    return imp


def imports_reconcile(*, idle_minutes: float | None = None) -> int:
    """Send again the unfinished imports that have not moved for IMPORT_IDLE_MINUTES, when no
    import holds the lock (a run that died frees it by its TTL); how many."""
    idle = settings.IMPORT_IDLE_MINUTES if idle_minutes is None else idle_minutes
    try:
        if locks.holder(LOCK) is not None:
            return 0
    except redis_client.REDIS_ERRORS:
        return 0  # no broker: nothing could be sent anyway
    stale = Import.objects.filter(
        state__in=Import.ACTIVE, updated_at__lt=timezone.now() - timedelta(minutes=idle)
    ).order_by("created_at")
    found = list(stale[:20])
    for imp in found:
        with transaction.atomic():
            _send(imp)
    if found:
        log.warning("imports.renudged count=%s", len(found))
    return len(found)


INLINE_BUDGET = 60  # s a run here works before it renews the imports lock


def import_run_here(*, import_id: int, progress=lambda: None) -> None:
    """Run the import in this process, as a worker would, holding the imports lock with the
    import's token (so no worker runs another import beside it); ``progress`` is called
    after each stretch of work."""
    imp = Import.objects.get(pk=import_id)
    ttl = INLINE_BUDGET * 10
    try:
        while True:
            if _lock_take(imp, ttl) != imp.token:
                raise ApplicationError("Another import is running; try again once it is done.")
            more = import_run(import_id=imp.pk, budget_seconds=INLINE_BUDGET)
            progress()
            if more is None:
                return
    finally:
        with contextlib.suppress(*redis_client.REDIS_ERRORS):
            locks.free(LOCK, imp.token)


def _lock_take(imp: Import, ttl: float) -> str:
    try:
        return locks.take(LOCK, imp.token, ttl)
    except redis_client.REDIS_ERRORS:
        return imp.token  # no Redis: no worker can run an import beside this one either
