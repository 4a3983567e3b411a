"""Reports and exports on demand, made by a real documents worker: the file holds exactly the
rows asked for, in chunks over many runs as in one; identical requests are one document; a
killed build goes on without duplicates; the ready mail's link needs staff and a valid token;
a million ledger rows are written in constant memory."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import openpyxl
import psutil
import pypdf
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.documents.files import link_token
from apps.documents.models import Document
from apps.documents.services import document_request, documents_reconcile
from apps.ops import locks
from apps.payments.models import Payment
from apps.reports.services import report_send
from apps.wallets.models import Earning
from devstack.processes import wait_for
from tests.support.factories import MemberFactory, PackageFactory
from tests.support.workers import kill

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def payments(count: int, *, days_ago: int, package=None) -> list[Payment]:
    package = package or PackageFactory()
    at = timezone.now() - timedelta(days=days_ago)
    return Payment.objects.bulk_create(
        Payment(
            reference=f"R{days_ago:02d}{n:06d}",
            package=package,
            phone=f"2547{n:08d}",
            amount=Decimal("50.00"),
            status="fulfilled",
            created_at=at + timedelta(seconds=n),
        )
        for n in range(count)
    )


def ready(document: Document, timeout: float = 120) -> Document:
    def done():
        document.refresh_from_db()
        assert document.state != Document.State.FAILED, document.error
        return document.state == Document.State.READY

    wait_for(done, timeout=timeout, interval=0.1, what=f"{document.title} to be made")
    return document


def csv_rows(document: Document) -> list[list[str]]:
    with default_storage.open(document.file.name, "rb") as handle:
        return list(csv.reader(io.StringIO(handle.read().decode("utf-8-sig"))))


def last_days(days: int) -> dict:
    today = timezone.localdate()
    return {"since": today - timedelta(days=days), "until": today}


def test_a_payments_report_holds_the_range_and_its_link_is_mailed(
    documents_worker, smtp, staff_client
):
    staff = MemberFactory(is_staff=True, email="amina@example.com")
    inside = payments(30, days_ago=1)
    payments(5, days_ago=40)  # outside the range
    documents_worker()
    document, new = document_request(
        source="payments", fmt="csv", requested_by_id=staff.pk, **last_days(7)
    )
    assert new and document.state == Document.State.QUEUED
    ready(document)
    rows = csv_rows(document)
    assert rows[0][:3] == ["id", "created", "phone"]
    assert [r[0] for r in rows[1:]] == [str(p.pk) for p in inside]  # in time order
    assert document.done == document.total == 30 and document.sha256

    (mail,) = smtp.wait_for(1)
    assert mail["To"] == "amina@example.com" and document.title in mail["Subject"]
    link = next(w for w in mail.get_body(("plain",)).get_content().split() if "/download/" in w)
    path = link.split("://", 1)[1].split("/", 1)[1]
    answer = staff_client.get("/" + path)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    assert b"".join(answer.streaming_content).decode("utf-8-sig").startswith("id,created")


def test_the_link_needs_staff_and_a_valid_token(staff_client, settings):
    document = Document.objects.create(
        source="payments", title="t", format="csv", key="k", state=Document.State.RUNNING
    )
    url = reverse("documents:download", kwargs={"document_id": document.pk})
    token = link_token(document.pk)
    assert Client().get(f"{url}?t={token}").status_code == 302  # to the admin login
    assert staff_client.get(f"{url}?t={token}").status_code == 409  # not made yet (no file)
    assert staff_client.get(f"{url}?t=forged").status_code == 403
    settings.DOCUMENT_LINK_HOURS = 0
    assert staff_client.get(f"{url}?t={token}").status_code == 403  # expired
    bad = reverse("documents:download", kwargs={"document_id": "not-a-uuid"})
    assert staff_client.get(bad).status_code == 404


def test_identical_requests_while_one_is_made_are_one_document(empty_queues):
    first, new = document_request(source="payments", fmt="csv", **last_days(3))
    second, again = document_request(source="payments", fmt="csv", **last_days(3))
    other, _ = document_request(source="payments", fmt="xlsx", **last_days(3))
    assert new and not again and first.pk == second.pk and other.pk != first.pk
    assert Document.objects.count() == 2


def test_a_report_made_one_chunk_per_run_is_the_file_made_in_one(documents_worker):
    inside = payments(45, days_ago=2)
    documents_worker(DOCUMENT_CHUNK="4", TASK_BUDGET_SHARE="0.0000001")  # a run per chunk
    document, _ = document_request(source="payments", fmt="csv", **last_days(7))
    ready(document)
    assert [r[0] for r in csv_rows(document)[1:]] == [str(p.pk) for p in inside]


def test_a_pdf_report_made_one_chunk_per_run_holds_every_row_once_in_order(documents_worker):
    inside = payments(120, days_ago=2)
    documents_worker(DOCUMENT_CHUNK="25", TASK_BUDGET_SHARE="0.0000001")  # a run per chunk
    document, _ = document_request(source="payments", fmt="pdf", **last_days(7))
    ready(document)
    with default_storage.open(document.file.name, "rb") as handle:
        pages = pypdf.PdfReader(handle).pages
        texts = [page.extract_text() for page in pages]
    assert len(texts) == 3  # 120 rows, 51 a page
    assert all(f"page {n} of 3" in text for n, text in enumerate(texts, start=1))
    # Eleven columns are cut to fit across the page; the phone, short, is whole.
    phones = re.findall(r"2547\d{8}", "".join(texts))
    assert phones == [p.phone for p in inside]


def test_the_command_makes_it_and_refuses_bad_requests(documents_worker, tmp_path):
    payments(3, days_ago=1)
    documents_worker()
    out, target = StringIO(), tmp_path / "payments.csv"
    since = str(timezone.localdate() - timedelta(days=2))
    args = ["payments", "--since", since, "--until", str(timezone.localdate())]
    call_command("generate_document", *args, "--wait", "--output", str(target), stdout=out)
    assert "ready: 3 rows" in out.getvalue()
    assert len(target.read_text(encoding="utf-8-sig").splitlines()) == 4
    for bad, message in [
        (["nonsense"], "Unknown report 'nonsense'"),
        (["payments"], "needs a date range"),
        (["payments", "--since", "2026-13-01", "--until", "2026-12-01"], "YYYY-MM-DD"),
        (["payments", "--since", "2026-12-02", "--until", "2026-12-01"], "ends"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("generate_document", *bad)
    assert Document.objects.count() == 1  # the refused asked for nothing


def earnings(count: int) -> None:
    """``count`` earning rows of one member, written by one INSERT ... SELECT."""
    member = MemberFactory()
    now = timezone.now()
    table = Earning._meta.db_table
    series = (
        "SELECT generate_series(1, %s) AS n"
        if connection.vendor == "postgresql"
        else "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %s) "
        "SELECT n FROM s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (member_id, amount, source_kind, source_id, status, "  # noqa: S608
            f"created_at, matures_at) SELECT %s, 1.50, 'assignment', n, 'pending', %s, %s "
            f"FROM ({series}) AS numbers",
            [member.pk, now, now, count],
        )


def test_a_build_killed_mid_file_goes_on_without_duplicates(documents_worker, redis_client):
    earnings(60_000)
    worker = documents_worker(DOCUMENT_CHUNK="500")
    document, _ = document_request(source="ledgers", fmt="csv")
    wait_for(
        lambda: Document.objects.get(pk=document.pk).done >= 5_000,
        timeout=120,
        interval=0.005,
        what="the build to be under way",
    )
    kill(worker)
    document.refresh_from_db()
    assert document.state == Document.State.RUNNING and 0 < document.done < 60_000
    locks.free(f"overlap:document:{document.pk}", locks.holder(f"overlap:document:{document.pk}"))
    documents_worker(DOCUMENT_CHUNK="500")
    assert documents_reconcile(idle_minutes=0) == 1  # as the reconciler finds it idle
    ready(document)
    ids = [r[4] for r in csv_rows(document)[1:]]
    assert len(ids) == len(set(ids)) == 60_000  # each ledger row once


def test_xlsx_and_pdf_read_back(documents_worker):
    upline = MemberFactory(phone="254711000001", name="Upline")
    MemberFactory(phone="254711000002", name="=cmd|' /C calc'!A0", referred_by=upline)
    documents_worker()
    sheet, _ = document_request(source="members", fmt="xlsx")
    ready(sheet)
    with default_storage.open(sheet.file.name, "rb") as handle:
        rows = list(openpyxl.load_workbook(handle, read_only=True).active.values)
    assert rows[0] == ("phone", "name", "upline_phone", "pending", "withdrawable")
    assert ("254711000002", "'=cmd|' /C calc'!A0", "254711000001") in [r[:3] for r in rows]

    summary = report_send(period="month")
    ready(summary)
    with default_storage.open(summary.file.name, "rb") as handle:
        text = pypdf.PdfReader(handle).pages[0].extract_text()
    assert "payments fulfilled" in text and "Conveyor month report" in text


def test_a_million_ledger_rows_are_written_in_constant_memory(documents_worker):
    earnings(1_000_000)
    worker = documents_worker()
    warm, _ = document_request(source="wallets", fmt="csv", **last_days(0))  # every import done
    ready(warm)
    (child,) = worker.children()
    before = psutil.Process(child).memory_info().rss
    document, _ = document_request(source="ledgers", fmt="csv")
    peak = before

    def watch():
        nonlocal peak
        peak = max(peak, psutil.Process(child).memory_info().rss)
        document.refresh_from_db()
        return document.state == Document.State.READY

    wait_for(watch, timeout=600, interval=0.05, what="a million rows written")
    assert document.done == 1_000_000
    grew = (peak - before) / 2**20
    assert grew < 40, f"the child grew {grew:.0f} MiB over a million rows"
