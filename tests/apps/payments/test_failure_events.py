"""Failure handlers tell staff only when their own conditional update marked the failure:
the same failure reported twice (a redelivered task, two workers) is one event."""

import pytest
from django.utils import timezone

from apps.common.errors import TransientError
from apps.ops.models import AdminEvent
from apps.payments import services
from apps.payments.models import Payment
from devstack.processes import wait_for
from tasks import payments as payment_tasks
from tests.support.workers import broker_holds


def failures(payment) -> int:
    return AdminEvent.objects.filter(
        type=AdminEvent.Type.PAYMENT_FAILED, payload__payment__id=str(payment.pk)
    ).count()


def test_a_payment_failed_twice_is_one_event(pending):
    assert services.payment_fail(payment_id=pending.pk, code="1037", desc="timeout") is True
    assert services.payment_fail(payment_id=pending.pk, code="1", desc="again") is False
    pending.refresh_from_db()
    assert (pending.status, pending.result_code) == ("failed", "1037")
    assert failures(pending) == 1


def test_the_push_failed_hook_called_twice_is_one_event(pending):
    for _ in range(2):
        payment_tasks._push_failed(
            None, TransientError("down"), (), {"payment_id": str(pending.pk)}
        )
    pending.refresh_from_db()
    assert (pending.status, pending.result_code) == ("failed", "push_failed")
    assert failures(pending) == 1


def test_fulfilment_giving_up_twice_is_one_event(pending):
    Payment.objects.filter(pk=pending.pk).update(status="paid", paid_at=timezone.now())
    assert services.payment_fulfil_failed(payment_id=pending.pk, error="boom") is True
    assert services.payment_fulfil_failed(payment_id=pending.pk, error="boom") is False
    pending.refresh_from_db()
    assert pending.status == "paid" and pending.fulfil_failed_at is not None
    [event] = AdminEvent.objects.filter(type=AdminEvent.Type.PAYMENT_FAILED)
    assert event.payload["error"] == "boom"


def test_fulfilment_failure_of_a_payment_not_paid_is_no_event(pending):
    assert services.payment_fulfil_failed(payment_id=pending.pk, error="late") is False
    Payment.objects.filter(pk=pending.pk).update(status="fulfilled")
    assert services.payment_fulfil_failed(payment_id=pending.pk, error="late") is False
    assert failures(pending) == 0


@pytest.mark.django_db(transaction=True)
def test_a_push_daraja_never_answers_fails_once_through_the_worker(
    worker, package, empty_queues, redis_client
):
    # The test settings point Daraja at a closed port: every attempt is refused, then the
    # hook fails the payment; a second push job for it (the reconciler's) changes nothing.
    payment = Payment.objects.create(
        package=package, phone="254712345678", amount=package.price, reference="HSNOPUSH"
    )
    payment_tasks.request_stk_push.delay(payment_id=str(payment.pk))
    wait_for(
        lambda: Payment.objects.get(pk=payment.pk).status == "failed",
        timeout=60,
        what="the push to be given up",
    )
    second = payment_tasks.request_stk_push.delay(payment_id=str(payment.pk))
    wait_for(lambda: not broker_holds(redis_client, second.id), what="the second job to run")
    payment.refresh_from_db()
    assert payment.result_code == "push_failed"
    assert failures(payment) == 1
