"""Reports on demand in Chromium: staff ask for one in admin, its page follows the progress
live (no reload) while a real documents worker makes it, the download link appears and
gives the file, and the operations page lists it with its bar."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from apps.documents.models import Document
from apps.payments.models import Payment
from tests.browser.conftest import sign_in
from tests.support.factories import PackageFactory
from tests.support.workers import ProbeWorker

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_ask_for_a_report_and_watch_it_being_made(
    browser, live_server, tmp_path, empty_queues
):
    package = PackageFactory()
    for n in range(25):
        Payment.objects.create(
            reference=f"BR{n:04d}",
            package=package,
            phone=f"2547{n:08d}",
            amount=Decimal("50.00"),
            created_at=timezone.now() - timedelta(hours=n),
        )
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/documents/document/")
    page.click("text=Ask for a report or export")
    page.select_option("#id_source", "payments")
    page.select_option("#id_format", "csv")
    page.fill("#id_since", str(timezone.localdate() - timedelta(days=3)))
    page.fill("#id_until", str(timezone.localdate()))
    page.click("#document-request input[type=submit]")
    page.wait_for_url("**/admin/documents/document/*/change/")
    assert page.inner_text("#document-progress .state") == "queued"  # nothing makes it yet

    # A worker with one chunk per run: the page follows it without being reloaded.
    env = {"DOCUMENT_CHUNK": "5", "TASK_BUDGET_SHARE": "0.0000001"}
    worker = ProbeWorker(tmp_path, queue_names=["documents"], env=env).start()
    try:
        page.wait_for_selector("#document-progress .state:text-is('ready')", timeout=60_000)
        assert page.inner_text("#document-progress .done") == "25"
        assert page.get_attribute("#document-progress progress", "value") == "100"
        with page.expect_download() as download:
            page.click("#document-progress a.download")
        text = Path(download.value.path()).read_text(encoding="utf-8-sig")
        assert text.startswith("id,created,phone") and len(text.splitlines()) == 26

        page.goto(f"{live_server.url}/admin/ops/")
        row = page.wait_for_selector("#panel-documents tr:has-text('Payments')")
        assert "ready" in row.inner_text()
        assert Document.objects.get().state == Document.State.READY
    finally:
        worker.stop()
