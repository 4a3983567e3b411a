"""The reconciler's sweep and the fulfilment step, against the database and real Redis."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.ops.models import AdminEvent
from apps.payments import services
from apps.payments.models import Payment, StkRequest


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return services.payments_reconcile()

    return run


def aged(payment: Payment, seconds: int, **fields) -> Payment:
    then = timezone.now() - timedelta(seconds=seconds)
    Payment.objects.filter(pk=payment.pk).update(created_at=then, updated_at=then, **fields)
    payment.refresh_from_db()
    return payment


def test_a_push_without_a_callback_is_queried_once_per_interval(sweep, pending, queued):
    StkRequest.objects.filter(payment=pending).update(
        created_at=timezone.now() - timedelta(seconds=300)
    )
    assert sweep()["queried"] == 1
    assert sweep()["queried"] == 0  # claimed: a second sweep does not query it again
    stk = pending.stk_requests.get()
    assert queued() == [("tasks.payments.settle_stk_by_query", {"stk_request_id": str(stk.pk)})]


def test_a_payment_never_pushed_is_pushed_again_later(sweep, package, queued, settings):
    payment = Payment.objects.create(
        package=package, phone="254712345678", amount=50, reference="HSNOPUSH"
    )
    assert sweep()["pushed"] == 0  # younger than RECONCILE_PUSH_AFTER
    aged(payment, settings.RECONCILE_PUSH_AFTER + 5)
    assert sweep()["pushed"] == 1
    assert queued() == [("tasks.payments.request_stk_push", {"payment_id": str(payment.pk)})]
    payment.refresh_from_db()
    assert payment.nudges == 1


def test_a_paid_payment_not_fulfilled_is_sent_again_up_to_a_limit(sweep, pending, queued, settings):
    settings.RECONCILE_MAX_NUDGES = 2
    old = timezone.now() - timedelta(seconds=600)
    for expected in (1, 1, 0):
        Payment.objects.filter(pk=pending.pk).update(status="paid", paid_at=old, updated_at=old)
        assert sweep()["fulfilling"] == expected
    assert len(queued()) == 2
    [event] = AdminEvent.objects.filter(type=AdminEvent.Type.PAYMENT_FAILED)
    assert "fulfil_payment re-sent 2 times" in event.payload["error"]


def test_a_payment_nobody_settles_expires(sweep, pending, queued, settings):
    aged(pending, settings.PAYMENT_EXPIRE_AFTER + 5)
    assert sweep()["expired"] == 1
    pending.refresh_from_db()
    assert (pending.status, pending.result_code) == ("failed", "expired")
    assert sweep()["expired"] == 0


def test_fulfilment_happens_once_and_creates_the_member(
    pending, django_capture_on_commit_callbacks
):
    Payment.objects.filter(pk=pending.pk).update(status="paid", paid_at=timezone.now())
    assert services.payment_fulfil(payment_id=pending.pk) is True
    assert services.payment_fulfil(payment_id=pending.pk) is False
    pending.refresh_from_db()
    assert pending.status == "fulfilled" and pending.member.phone == pending.phone
    [event] = AdminEvent.objects.filter(type=AdminEvent.Type.PAYMENT_PROCESSED)
    assert event.payload["user"]["is_new"] is True
    assert event.payload["payment"]["package"] == "Normal 1 Hour"


def test_a_pending_payment_is_not_fulfilled(pending):
    assert services.payment_fulfil(payment_id=pending.pk) is False
    pending.refresh_from_db()
    assert pending.status == "pending"
