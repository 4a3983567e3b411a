"""Mail over a real SMTP server (aiosmtpd), through a real emails worker: notices in text and
HTML, deferrals retried, refusals recorded, a server down for good ends in FailedTask and on
the row, and staff are mailed once per failing task name per cool-down."""

import pytest
from django.core.management import call_command

from apps.notifications.models import Channel, Notification, Preference, Status
from apps.notifications.services import notification_deliver, notify
from apps.ops.models import FailedTask
from config import queues
from devstack.processes import wait_for
from tests.support.factories import MemberFactory
from tests.support.workers import ProbeWorker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DIGEST = {"name": "Wanjiru", "total": "120.50", "rows": 3}


def member_by_mail(email="wanjiru@example.com"):
    member = MemberFactory(email=email, name="Wanjiru")
    Preference.objects.create(member=member, email=True)
    return member


def status(row: Notification) -> str:
    row.refresh_from_db()
    return row.status


@pytest.fixture
def mail_worker(tmp_path, smtp, empty_queues):
    alerts = {"FAILURE_ALERT_QUEUES": "payments,provisioning"}  # off by default in tests
    worker = ProbeWorker(
        tmp_path, queue_names=["emails", "payments"], concurrency=1, env={**smtp.env(), **alerts}
    ).start()
    yield worker
    worker.stop()


def test_a_member_who_chose_mail_gets_text_and_html_once(mail_worker, smtp):
    rows = notify(member=member_by_mail(), kind="commissions_credited", context=DIGEST)
    assert sorted(r.channel for r in rows) == [Channel.EMAIL, Channel.IN_APP]
    mail = next(r for r in rows if r.channel == Channel.EMAIL)

    (message,) = smtp.wait_for(1)
    wait_for(lambda: status(mail) == Status.SENT, what="the row to record the send")
    assert message["To"] == "wanjiru@example.com"
    assert message["Subject"] == "Commissions credited: KES 120.50"
    assert (
        "KES 120.50 in commissions from 3 referrals" in message.get_body(("plain",)).get_content()
    )
    assert "<strong>KES 120.50</strong>" in message.get_body(("html",)).get_content()
    mail.refresh_from_db()
    assert mail.provider_id == message["Message-ID"] and mail.attempts == 1


def test_a_deferral_is_retried_and_delivered_once(mail_worker, smtp):
    smtp.handler.defer_next = 1
    (_, mail) = sorted(
        notify(member=member_by_mail(), kind="earnings_matured", context=DIGEST),
        key=lambda r: r.channel == Channel.EMAIL,
    )
    smtp.wait_for(1, timeout=30)
    wait_for(lambda: status(mail) == Status.SENT, what="the retried send")
    mail.refresh_from_db()
    assert mail.attempts == 2 and len(smtp.received) == 1


def test_a_refused_address_is_failed_not_retried(smtp):
    smtp.handler.refused.add("gone@example.com")
    rows = notify(
        member=member_by_mail("gone@example.com"), kind="earnings_matured", context=DIGEST
    )
    mail = next(r for r in rows if r.channel == Channel.EMAIL)
    assert notification_deliver(notification_id=mail.pk, run_id="t") == Status.FAILED
    mail.refresh_from_db()
    assert (mail.reason, smtp.received) == ("RecipientRefused", [])


def test_a_server_down_for_good_lands_in_failed_tasks_and_queue_retry_sends_it(
    tmp_path, smtp, empty_queues
):
    down = {**smtp.env(), "EMAIL_PORT": "9"}
    worker = ProbeWorker(tmp_path, queue_names=["emails"], concurrency=1, env=down).start()
    try:
        rows = notify(member=member_by_mail(), kind="earnings_matured", context=DIGEST)
        mail = next(r for r in rows if r.channel == Channel.EMAIL)
        failed = wait_for(
            lambda: FailedTask.objects.filter(task_name="tasks.emails.deliver_email").first(),
            timeout=60,
            what="the delivery to fail for good",
        )
        wait_for(lambda: status(mail) == Status.FAILED, what="the row to be marked failed")
    finally:
        worker.stop()
    assert failed.attempts == queues.policy("emails").attempts
    assert "no connection" in mail.error and mail.reason == ""

    worker = ProbeWorker(tmp_path, queue_names=["emails"], concurrency=1, env=smtp.env()).start()
    try:
        call_command("queue_retry", str(failed.pk))
        smtp.wait_for(1)
        wait_for(lambda: status(mail) == Status.SENT, what="the retried delivery")
    finally:
        worker.stop()
    assert len(smtp.received) == 1


def test_staff_are_mailed_once_per_failing_task_per_cooldown(mail_worker, smtp, key, redis_client):
    from tests.support.probes import fail

    redis_client.delete("alert:task_failed:tests.support.probes.fail")  # earlier tests' cool-down
    MemberFactory(is_staff=True, email="staff@example.com")
    fail.delay(key=f"{key}:1", transient=False)
    fail.delay(key=f"{key}:2", transient=False)
    wait_for(lambda: FailedTask.objects.count() == 2, timeout=30, what="both failures")

    received = smtp.wait_for(2)  # ADMINS' address and the staff member's
    wait_for(
        lambda: Notification.objects.filter(kind="task_failed", status=Status.SENT).count() == 2,
        what="the alerts to be recorded",
    )
    assert sorted(m["To"] for m in received) == ["ops@example.com", "staff@example.com"]
    assert (
        received[0]["Subject"] == "tests.support.probes.fail failed for good on the payments queue"
    )
    body = received[0].get_body(("plain",)).get_content()
    assert "ValueError: probe" in body and "queue_retry" in body
    assert Notification.objects.filter(kind="task_failed").count() == 2  # the second: cooled down
