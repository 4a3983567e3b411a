"""Recent jobs and an entity's timeline, in Chromium, with a real worker running the jobs: a
job that succeeded on its third attempt shows its three attempts; search by tag, task, id and
outcome; tags link to the timeline, which lists the runs across queues in order."""

import uuid

import pytest

from apps.ops import runs
from devstack.processes import wait_for
from tests.browser.conftest import sign_in
from tests.support.probes import flaky, touch
from tests.support.workers import ProbeWorker

pytestmark = pytest.mark.django_db(transaction=True)


def _ended(task_id: str, outcome: str) -> None:
    wait_for(
        lambda: (runs.job_get(task_id=task_id) or {}).get("outcome") == outcome,
        timeout=60,
        what=f"job {task_id} {outcome}",
    )


def test_staff_search_jobs_and_follow_an_entity(browser, live_server, tmp_path, key, empty_queues):
    worker = ProbeWorker(tmp_path, queue_names=["payments", "provisioning"]).start()
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    payment = uuid.uuid4().hex
    tag = f"payment:{payment}"
    try:
        retried = flaky.delay(key, payment_id=payment).id
        _ended(retried, "succeeded")
        failed = touch.apply_async(
            kwargs={"key": key, "payment_id": payment, "fail": True}, queue="provisioning"
        ).id
        _ended(failed, "failed")

        sign_in(page, live_server)
        page.click("#jobs-link")
        page.wait_for_url("**/admin/ops/jobs/")
        page.fill("input[name=tag]", tag)
        page.click("#search button[type=submit]")
        row = f'#jobs tr[data-task-id="{retried}"]'
        page.wait_for_selector(row)
        assert page.inner_text(f"{row} td.attempt") == "3 of 5"
        assert page.inner_text(f"{row} td.outcome") == "succeeded"
        attempts = [s.inner_text() for s in page.query_selector_all(f"{row} span.run")]
        assert attempts == ["1 retried", "2 retried", "3 succeeded"]
        assert page.query_selector(f'#jobs tr[data-task-id="{failed}"]')

        # By outcome (with the tag), by id, by task.
        page.select_option("select[name=outcome]", "failed")
        page.click("#search button[type=submit]")
        page.wait_for_url("**/admin/ops/jobs/?*outcome=failed*")
        page.wait_for_selector(f'#jobs tr[data-task-id="{failed}"] td.outcome:text-is("failed")')
        assert not page.query_selector(row)
        page.goto(f"{live_server.url}/admin/ops/jobs/?id={retried}")
        page.wait_for_selector(f"{row} td.attempt:text-is('3 of 5')")
        assert len(page.query_selector_all("#jobs tbody tr")) == 1
        page.goto(f"{live_server.url}/admin/ops/jobs/?task=probes.touch&tag={tag}")
        page.wait_for_selector(f'#jobs tr[data-task-id="{failed}"]')
        assert not page.query_selector(row)
        page.goto(f"{live_server.url}/admin/ops/jobs/?outcome=exploded")
        page.wait_for_selector("#status:has-text('is not one of')")

        # The failed task's tag on the operations page opens the payment's timeline.
        page.goto(f"{live_server.url}/admin/ops/")
        page.click(f'#failed a.tag:text-is("{tag}")')
        page.wait_for_url("**/admin/ops/timeline/?tag=*")
        page.wait_for_selector(f'#timeline tr[data-task-id="{failed}"]')
        shown = [
            (
                r.get_attribute("data-attempt"),
                *(r.query_selector(f"td.{c}").inner_text() for c in ("queue", "outcome")),
            )
            for r in page.query_selector_all("#timeline tbody tr")
        ]
        assert shown == [
            ("1", "payments", "retried"),
            ("2", "payments", "retried"),
            ("3", "payments", "succeeded"),
            ("1", "provisioning", "failed"),
        ]
        error = page.inner_text(f'#timeline tr[data-task-id="{failed}"] td.error')
        assert error.startswith("ValueError: probe")
    finally:
        page.close()
        worker.stop()
