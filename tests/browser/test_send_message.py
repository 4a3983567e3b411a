"""Send a message in Chromium, with a real notifications worker behind it: staff fill the form,
see a mistake refused, confirm the count, send, watch the broadcast reach 100 % and follow it
to its batch's page."""

import pytest

from apps.notifications.models import Broadcast, Notification
from devstack.processes import wait_for
from tests.browser.conftest import sign_in
from tests.support.factories import MemberFactory
from tests.support.workers import ProbeWorker

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_send_a_message_to_a_segment_and_follow_it(
    browser, live_server, tmp_path, empty_queues
):
    upline = MemberFactory(phone="254711000002")
    MemberFactory.create_batch(3, referred_by=upline)
    MemberFactory.create_batch(2)  # not referred by that upline
    worker = ProbeWorker(tmp_path, queue_names=["notifications"]).start()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        sign_in(page, live_server)
        page.goto(f"{live_server.url}/admin/notifications/broadcast/")
        page.click("#send-message")
        page.check('input[name="channels"][value="sms"]')
        page.fill("#id_body", "Hello {name}, " + "x" * 460)
        page.fill("#id_upline", "0711 000 002")
        page.click("#preview-button")
        page.wait_for_selector('.field-body .errorlist:has-text("at most 459 fit in 3 parts")')

        page.fill("#id_body", "Hello {name}, the draw is on Friday.")
        page.click("#preview-button")
        assert "to 3 members" in page.inner_text("#reach")
        assert "1 part a member" in page.inner_text("#sms-size")
        page.click("#send")

        page.wait_for_url("**/admin/notifications/broadcast/*/change/")
        assert "Sending to 3 members" in page.inner_text(".messagelist")
        broadcast = Broadcast.objects.get()
        wait_for(
            lambda: Broadcast.objects.filter(pk=broadcast.pk, state="finished").exists(),
            what="the broadcast to finish",
        )
        page.reload()
        page.wait_for_selector('.field-progress:has-text("3 of 3 (100.0%)")')
        page.click('.field-batch a:has-text("its sends")')
        page.wait_for_url(f"**/admin/ops/batches/{broadcast.batch_id}/")
    finally:
        page.close()
        worker.stop()
    assert Notification.objects.filter(kind="staff_message").count() == 3
