"""The metrics screen in Chromium, after real tasks ran through a real worker: four charts
drawn with what the worker counted, for one queue, over the last hour and the last day."""

import pytest

from apps.ops import metrics
from devstack.processes import wait_for
from tests.browser.conftest import sign_in
from tests.support import probes
from tests.support.workers import ProbeWorker

pytestmark = pytest.mark.django_db(transaction=True)

N = 6
CHARTS = ("throughput", "failures", "wait", "p95")


def test_staff_see_a_queues_metrics_over_time(
    browser, live_server, tmp_path, key, redis_client, empty_queues
):
    for stale in redis_client.scan_iter("metrics:*"):
        redis_client.delete(stale)
    worker = ProbeWorker(tmp_path, queue_names=["payments"]).start()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        for _ in range(N):
            probes.record.delay(key)
        probes.fail.delay(f"{key}:f", transient=False)
        wait_for(
            lambda: metrics.counts().get(("payments", "tests.support.probes.fail", "failed")),
            what="the failure counted",
        )
        wait_for(
            lambda: (
                metrics.counts().get(("payments", "tests.support.probes.record", "succeeded")) == N
            ),
            what="the runs counted",
        )

        sign_in(page, live_server)
        page.click("#metrics-link")
        page.wait_for_selector('#metrics[data-shown="|1h"]')
        page.select_option("#queue", "payments")
        page.wait_for_selector('#metrics[data-shown="payments|1h"]')
        assert "queue=payments" in page.url
        for chart in CHARTS:
            assert page.query_selector(f"#chart-{chart} .uplot canvas"), chart
        assert page.get_attribute("#chart-throughput", "data-total") == str(N + 1)
        assert page.get_attribute("#chart-failures", "data-total") == "1"
        assert float(page.get_attribute("#chart-wait", "data-total")) >= 0
        assert float(page.get_attribute("#chart-p95", "data-total")) > 0
        # What uPlot holds is what was counted: one point a minute, the runs in the last ones.
        drawn = page.evaluate(
            "() => { const u = window.opsMetrics.charts;"
            " return [u.throughput.data[1], u.failures.data[1], u.p95.data[1]]; }"
        )
        throughput, failures, p95 = drawn
        assert len(throughput) == 60 and sum(throughput) == N + 1 and sum(failures) == 1
        assert any(v is not None and v > 0 for v in p95)
        assert page.get_attribute("#chart-throughput", "data-drawn") == "60"
        assert f"{N + 1} finished" in page.inner_text("#chart-throughput h2")

        # The day: ten-minute points, the same totals.
        page.click('#ranges button[data-range="24h"]')
        page.wait_for_selector('#metrics[data-shown="payments|24h"]')
        assert page.get_attribute("#chart-throughput", "data-total") == str(N + 1)
        assert page.get_attribute("#chart-failures", "data-total") == "1"
        assert page.get_attribute("#chart-throughput", "data-drawn") in ("144", "145")
        assert page.get_attribute('#ranges button[data-range="24h"]', "aria-pressed") == "true"

        # Another queue has nothing yet; the charts say so without failing.
        page.select_option("#queue", "emails")
        page.wait_for_selector('#metrics[data-shown="emails|24h"]')
        assert page.get_attribute("#chart-throughput", "data-total") == "0"
        assert page.inner_text("#status") == ""
    finally:
        page.close()
        worker.stop()
