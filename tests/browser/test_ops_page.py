"""The operations page in a real browser: Playwright driving the system's Chromium headless
against the live server, with real workers behind it."""

import os
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.notifications.models import Broadcast
from apps.ops.models import AdminEvent, FailedTask
from config import queues
from devstack.processes import wait_for
from tasks.default import monitor_queues
from tests.browser.conftest import sign_in
from tests.support.probes import fail
from tests.support.workers import ProbeWorker

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "ops-page.png"

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_watch_retry_and_edit_from_the_browser(
    browser, live_server, tmp_path, key, redis_client, empty_queues, settings
):
    settings.EVENT_STREAM_SECONDS = 4  # the feed reconnects (and catches up) along the way
    call_command("setup_schedules", stdout=StringIO())
    Broadcast.objects.create(kind="commission_rate_changed", title="Level 1 rate", total=8, done=2)
    worker = ProbeWorker(tmp_path, queue_names=["payments", "default"]).start()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        sign_in(page, live_server)
        for name in queues.NAMES:
            page.wait_for_selector(f'#queues tr[data-queue="{name}"]')
        # The panels other apps add: notices per channel, broadcasts with their progress.
        page.wait_for_selector('#panel-notifications td:has-text("SMS")')
        bar = page.wait_for_selector("#panel-broadcasts progress")
        assert bar.get_attribute("value") == "25"

        # An event sent from a worker reaches the live feed through the event stream alone:
        # the page's data refresh is cut off meanwhile, and the event must show well within
        # the refresh's 5 s period.
        page.route("**/admin/ops/data/**", lambda route: route.abort())
        for _ in range(queues.policy("commissions").alert_depth + 1):
            redis_client.lpush("commissions", b"{}")  # nobody consumes commissions here
        redis_client.delete("ops:alert:commissions")
        monitor_queues.delay()
        wait_for(
            lambda: AdminEvent.objects.filter(type=AdminEvent.Type.QUEUE_BUSY).exists(),
            timeout=20,
            what="the worker to record the alert",
        )
        stored = time.monotonic()
        page.wait_for_selector("#feed li:has-text('queue_busy')", timeout=3_000)
        assert time.monotonic() - stored < 3
        page.unroute("**/admin/ops/data/**")
        page.wait_for_selector('#queues tr[data-queue="commissions"] td:has-text("busy")')
        redis_client.delete("commissions")

        # A task fails for good on the worker; the page shows it; retry sends it away.
        fail.delay(key, transient=False)
        row = wait_for(lambda: FailedTask.objects.first(), what="the failure recorded")
        redis_client.set(f"{key}:heal", 1)  # the retry will succeed
        page.wait_for_selector(f'#failed tr[data-id="{row.pk}"]', timeout=15_000)
        page.screenshot(path=str(tmp_path / "ops-page.png"), full_page=True)
        if os.environ.get("SAVE_SCREENSHOT"):  # to refresh the README's picture
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.click(f'#failed tr[data-id="{row.pk}"] button[data-action="retry"]')
        page.wait_for_selector(f'#failed tr[data-id="{row.pk}"]', state="detached")
        wait_for(lambda: redis_client.llen(f"{key}:done") == 1, what="the retried task to run")

        # A schedule edited in django-celery-beat's admin.
        from django_celery_beat.models import IntervalSchedule, PeriodicTask

        every, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
        schedule = PeriodicTask.objects.create(
            name="test: browser edit", task="tasks.default.monitor_queues", interval=every
        )
        page.goto(f"{live_server.url}/admin/django_celery_beat/periodictask/{schedule.pk}/change/")
        page.uncheck("#id_enabled")
        page.fill("#id_description", "paused from the browser")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")
        schedule.refresh_from_db()
        assert (schedule.enabled, schedule.description) == (False, "paused from the browser")
    finally:
        page.close()
        worker.stop()
