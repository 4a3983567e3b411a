"""Imports through a real worker of the documents queue, sharing this process's database and
file storage (a folder of its own)."""

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.db.models import Sum

from apps.accounts.models import Member
from apps.imports.models import Import
from apps.imports.services import import_start
from apps.imports.services.starting import LOCK
from apps.wallets.models import Earning, Wallet
from devstack.processes import wait_for
from tests.support.workers import ProbeWorker

CHUNK_ROWS = 2000  # the workers' IMPORT_CHUNK_ROWS: a file of thousands spans many chunks


@pytest.fixture(scope="package")
def media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("media")


def worker_env(media: Path, **more) -> dict:
    return {
        "MEDIA_ROOT": str(media),
        "DOCUMENTS_WORK_DIR": str(media / "work"),
        "IMPORT_CHUNK_ROWS": str(CHUNK_ROWS),
        **more,
    }


@pytest.fixture(scope="module")
def documents_worker(django_db_setup, django_db_blocker, tmp_path_factory, media):
    """A real prefork worker (pool 1, as the queue table has it) of the documents queue, for
    one test module (the SIGKILL tests start their own, with none other consuming)."""
    process = ProbeWorker(
        tmp_path_factory.mktemp("worker"), queue_names=["documents"], env=worker_env(media)
    ).start()
    yield process
    process.stop()


@pytest.fixture(autouse=True)
def no_import_lock(redis_client):
    """No import holds the one-at-a-time lock when a test starts: a run killed by an earlier
    test holds it until its TTL (minutes), which is the lock's job, not this test's."""
    redis_client.delete(f"lock:{LOCK}")


@pytest.fixture(autouse=True)
def storage(settings, media):
    """This process stores and reads where the workers do."""
    settings.MEDIA_ROOT = str(media)
    settings.DOCUMENTS_WORK_DIR = str(media / "work")
    settings.IMPORT_CHUNK_ROWS = CHUNK_ROWS


def csv_bytes(lines: list[str], *, header: str = "phone,name,upline_phone,pending,withdrawable"):
    return ("\n".join([header, *lines]) + "\n").encode()


def start(data: bytes | Path, name: str = "members.csv") -> Import:
    """Upload ``data`` as the command and the admin do; the import is sent on commit."""
    if isinstance(data, Path):
        with data.open("rb") as handle:
            return import_start(handle=handle, filename=data.name)[0]
    return import_start(handle=io.BytesIO(data), filename=name)[0]


def finished(imp: Import, timeout: float = 120) -> Import:
    """The import once it is done or failed, polled from the database."""

    def settled():
        imp.refresh_from_db()
        return imp.state not in Import.ACTIVE

    wait_for(settled, timeout=timeout, interval=0.1, what=f"import {imp.pk} to finish")
    return imp


def snapshot() -> dict:
    """Everything an import may change, to compare before and after."""
    return {
        "members": sorted(Member.objects.values_list("phone", "name", "referred_by__phone")),
        "wallets": sorted(Wallet.objects.values_list("member__phone", "pending", "withdrawable")),
        "earnings": sorted(
            Earning.objects.values_list("member__phone", "amount", "source_kind", "status")
        ),
        "totals": Wallet.objects.aggregate(p=Sum("pending"), w=Sum("withdrawable")),
    }


def report_rows(imp: Import) -> list[tuple[int, str, str]]:
    """The error report's (row, column, reason), as a spreadsheet would read it."""
    import csv

    from django.core.files.storage import default_storage

    with default_storage.open(imp.report.name, "rb") as handle:
        text = handle.read().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["row", "column", "value", "reason"]
    return [(int(r[0]), r[1], r[3]) for r in rows[1:]]


def money(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.01"))
