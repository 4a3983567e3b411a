"""Imports (`python -m bench --only imports`): 100,000 members from a CSV through one documents
worker (pool 1, as the queue table has it), timed from the upload (the file checked, stored
and queued) to done; then the same file again, every row unchanged; then audit_ledger.

The file is devstack/members_file.py's: a referral forest in shuffled order (half the members
before their uplines), one chain 300 deep (its rows past the deepest allowed are refused),
phones in every Kenyan spelling, opening balances on seven members in ten. It runs in a
database of its own on PostgreSQL, as production does."""

import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection

from apps.commissions.audit import ledger_audit
from apps.imports.models import Import
from apps.imports.services import import_start
from bench.notifications import _running, _using
from devstack.members_file import members_csv, members_rows
from devstack.processes import WorkerProcess, wait_for


def run(*, database: str, workdir: Path, members: int) -> list[dict]:
    with _using(database):
        if connection.vendor != "postgresql":
            return [_row("imports", "skipped", "needs PostgreSQL (BENCH_DATABASE_URL)")]
        settings.DEBUG = False
        call_command("migrate", verbosity=0)
        media = workdir / "imports-media"
        settings.MEDIA_ROOT, settings.DOCUMENTS_WORK_DIR = str(media), str(media / "work")
        path = members_csv(workdir / "members.csv", members_rows(members))
        worker = WorkerProcess(
            "imports@bench",
            ["documents"],
            workdir / "imports-worker.log",
            env={
                "DATABASE_URL": database,
                "DJANGO_DEBUG": "false",
                "MEDIA_ROOT": settings.MEDIA_ROOT,
                "DOCUMENTS_WORK_DIR": settings.DOCUMENTS_WORK_DIR,
            },
        )
        with _running(worker):
            first, first_took = _timed(path)
            again, again_took = _timed(path)
        started = time.perf_counter()
        audit = "ok" if ledger_audit().ok else "MISMATCH"
        audit_took = time.perf_counter() - started
    setup = (
        f"{members:,} rows, one documents worker, IMPORT_CHUNK_ROWS {settings.IMPORT_CHUNK_ROWS}"
    )
    return [
        _row(
            "imports: first import, rows/s",
            f"{members / first_took:,.0f} ({first_took:.1f} s; {first.created:,} created, "
            f"{first.refused} refused)",
            f"{setup}; upload to done (goal: 100,000 in 60 s or less)",
        ),
        _row(
            "imports: the same file again, rows/s",
            f"{members / again_took:,.0f} ({again_took:.1f} s; {again.unchanged:,} unchanged, "
            f"{again.created} created)",
            f"{setup}; nothing changes",
        ),
        _row("imports: audit_ledger after both", f"{audit} in {audit_took:.1f} s", "every wallet"),
    ]


def _timed(path: Path) -> tuple[Import, float]:
    started = time.perf_counter()
    with path.open("rb") as handle:
        imp, _ = import_start(handle=handle, filename=path.name)
    wait_for(
        lambda: Import.objects.filter(pk=imp.pk).exclude(state__in=Import.ACTIVE).exists(),
        timeout=900,
        interval=0.05,
        what="the import to finish",
    )
    took = time.perf_counter() - started
    imp.refresh_from_db()
    if imp.state != Import.State.DONE:
        raise RuntimeError(f"import {imp.pk} {imp.state}: {imp.error}")
    return imp, took


def _row(measure: str, value: str, setup: str) -> dict:
    return {"measure": measure, "value": value, "setup": setup}
