"""Reports: a million ledger rows exported by a real documents worker, as CSV, XLSX and PDF;
rows per second, CPU per thousand rows (pool and database, from /proc), and the pool child's
resident memory before the export and at its peak (sampled every 50 ms): constant memory
means the peak does not grow with the rows."""

import random
import time

import psutil
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from apps.accounts.models import Member
from apps.demo.seed import members_seed
from apps.documents.models import Document
from apps.documents.services import document_request
from bench.procstat import CpuMeter, Kind, postmaster_pid
from devstack import synthetic
from devstack.processes import WorkerProcess, wait_for

FORMATS = ("csv", "xlsx", "pdf")


def run(workdir, rows: int, members: int) -> list[dict]:
    if connection.vendor != "postgresql":
        return [_row("report", "skipped", "needs PostgreSQL")]
    call_command("migrate", verbosity=0)
    members_seed(members, random.Random(2))
    ids = list(Member.objects.order_by("pk").values_list("pk", flat=True)[:members])
    now = timezone.now()
    synthetic.earnings_insert(count=rows, member_ids=ids, tag="report", now=now, matures_at=now)
    worker = WorkerProcess("bench-documents@conveyor", ["documents"], workdir / "documents.log")
    worker.start()
    try:
        kinds = [Kind("pool", (worker.process.pid,), product=True)]
        if (postmaster := postmaster_pid()) is not None:
            kinds.append(Kind("database", (postmaster,), product=True))
        return [row for fmt in FORMATS for row in _export(worker, CpuMeter(kinds), fmt)]
    finally:
        worker.stop()


def _export(worker: WorkerProcess, meter: CpuMeter, fmt: str) -> list[dict]:
    (child,) = psutil.Process(worker.process.pid).children()
    before = peak = child.memory_info().rss
    cpu_before, started = meter.snapshot(), time.perf_counter()
    document, _ = document_request(source="ledgers", fmt=fmt)

    def made() -> bool:
        nonlocal peak
        peak = max(peak, child.memory_info().rss)
        document.refresh_from_db()
        if document.state == Document.State.FAILED:
            raise RuntimeError(f"{fmt} export failed: {document.error}")
        return document.state == Document.State.READY

    wait_for(made, timeout=1800, interval=0.05, what=f"the {fmt} export")
    seconds = time.perf_counter() - started
    spent = meter.ms(cpu_before, meter.snapshot())
    per_thousand = ", ".join(f"{k} {v * 1000 / document.done:.0f}" for k, v in spent.items())
    setup = f"{document.done:,} ledger rows, one documents worker; PostgreSQL"
    mib = 2**20
    return [
        _row(
            f"report {fmt}: rows/s", f"{document.done / seconds:,.0f}", f"{setup}; {seconds:.1f} s"
        ),
        _row(f"report {fmt}: CPU ms per 1,000 rows", per_thousand, setup),
        _row(
            f"report {fmt}: pool child RSS, before / peak (MiB)",
            f"{before / mib:.0f} / {peak / mib:.0f}",
            f"{setup}; file {document.size / mib:.0f} MiB",
        ),
    ]


def _row(measure: str, value: str, setup: str) -> dict:
    return {"measure": measure, "value": value, "setup": setup}
