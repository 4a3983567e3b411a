"""Batches on the operations page, in Chromium, with a real worker running the jobs: the list
with progress bars, a batch's page with its failed jobs, retry-failed and cancel."""

import pytest

from apps.ops.batches import batch_dispatch
from apps.ops.models import Batch
from devstack.processes import wait_for
from tests.browser.conftest import sign_in
from tests.support import probes
from tests.support.workers import ProbeWorker

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_follow_retry_and_cancel_batches(
    browser, live_server, tmp_path, key, redis_client, empty_queues
):
    worker = ProbeWorker(tmp_path, queue_names=["payments"]).start()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        jobs = [probes.batch_job.si(key, n, fail=n == 3) for n in range(8)]
        lenient = batch_dispatch(name="rate change", jobs=jobs, allow_failures=True)
        wait_for(
            lambda: Batch.objects.filter(pk=lenient.pk, finished_at__isnull=False).exists(),
            what="the batch to finish",
        )
        sign_in(page, live_server)
        row = f'#batches tr[data-batch="{lenient.pk}"]'
        bar = page.wait_for_selector(f"{row} progress")
        assert bar.get_attribute("value") == "100"
        assert page.inner_text(f"{row} td:nth-child(3)") == "8 of 8"
        assert page.inner_text(f"{row} td:nth-child(4)") == "1"

        # Its page: the failed job with its error, then retry-failed heals it.
        page.click(f"{row} a")
        page.wait_for_selector('#failures td:has-text("ValueError: job 3 fails")')
        assert page.inner_text('#states tr[data-state="failed"] td.num') == "1"
        redis_client.set(f"{key}:heal", 1)
        page.click('#actions button[data-action="retry"]')
        page.wait_for_selector('#states tr[data-state="failed"] td.num:text-is("0")')
        page.wait_for_selector("#failures tbody tr", state="detached")

        # A running batch is cancelled from the list: the jobs still queued skip themselves.
        gate = f"{key}:gate"
        running = batch_dispatch(
            name="slow", jobs=[probes.batch_gate.si(gate, n) for n in range(5)]
        )
        page.goto(f"{live_server.url}/admin/ops/")
        wait_for(lambda: redis_client.get(f"{gate}:started") == "1", what="the first job")
        page.click(f'#batches tr[data-batch="{running.pk}"] button[data-action="cancel"]')
        page.wait_for_selector(f'#batches tr[data-batch="{running.pk}"] td:has-text("cancelled")')
        redis_client.set(f"{gate}:go", 1)
        wait_for(
            lambda: Batch.objects.filter(pk=running.pk, finished_at__isnull=False).exists(),
            what="the cancelled batch to finish",
        )
        assert redis_client.llen(f"{gate}:ran") == 1
        page.wait_for_selector(
            f'#batches tr[data-batch="{running.pk}"] td:has-text("finished, cancelled")'
        )
        assert not page.query_selector(f'#batches tr[data-batch="{running.pk}"] button')
    finally:
        page.close()
        worker.stop()
