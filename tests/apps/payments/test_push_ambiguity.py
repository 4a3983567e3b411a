"""Pushes whose outcome is unclear, over HTTP with a real payments worker and the Daraja
simulator: a push Daraja took but answered after DARAJA_TIMEOUT (1.5 s here) must not prompt
the buyer again while that prompt may be live, a second payment for one purchase lands in
Suspense, and 500s that recover end in one prompt."""

import time

import pytest

from apps.ops.models import AdminEvent
from apps.payments.models import Payment, StkRequest, Suspense
from devstack.processes import wait_for
from tasks.payments import reconcile_payments
from tests.support.daraja_live import buy, events, new_phone, pushes, resend, settle

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_push_answered_too_late_prompts_once_and_its_callback_pays(
    daraja_worker, live_server, simulator, knobs, on_sale
):
    phone = new_phone()
    # Daraja takes the push and answers after 3 s; the buyer types the PIN after 5 s, by
    # when the worker's retries (0.5 s, 1.5 s backoff here) would have prompted twice more.
    knobs(phone_outcomes={phone: 0}, slow_answer=3.0, callback_delay=5.0)
    payment_id = buy(live_server.url, phone)

    assert settle([payment_id]) == {payment_id: "fulfilled"}
    payment = Payment.objects.get(pk=payment_id)
    [push] = pushes(simulator, phone)
    assert payment.mpesa_receipt == push["receipt"]
    # The push's id came with its callback (the reference in the path), not the answer.
    assert list(
        StkRequest.objects.filter(payment=payment).values_list("checkout_request_id", flat=True)
    ) == [push["checkout"]]
    assert events(payment_id, AdminEvent.Type.PAYMENT_PROCESSED) == 1
    assert not Suspense.objects.exists()


def test_an_unanswered_push_is_pushed_again_only_later_and_a_second_payment_is_held(
    daraja_worker, live_server, simulator, knobs, on_sale
):
    phone = new_phone()
    # The first push is taken but answered too late, and its callback is lost.
    knobs(phone_outcomes={phone: 0}, slow_answer=3.0, callback_delay=0.2, drop_rate=1.0)
    payment_id = buy(live_server.url, phone)
    first = wait_for(
        lambda: (p := pushes(simulator, phone)) and p[0]["done"] and p[0], what="the first push"
    )
    ambiguous_at = time.monotonic()
    knobs(slow_answer=0.0, drop_rate=0.0)

    # While the first prompt may be live, sweeps do not push again.
    deadline = ambiguous_at + 5
    while time.monotonic() < deadline:
        reconcile_payments.delay()
        time.sleep(0.5)  # pacing the sweeps, not waiting for a result
        assert len(pushes(simulator, phone)) == 1
    assert Payment.objects.get(pk=payment_id).status == "pending"

    # RECONCILE_PUSH_AFTER (8 s) after the unanswered push, the reconciler pushes again.
    assert settle([payment_id], timeout=60) == {payment_id: "fulfilled"}
    first_again, second = sorted(
        pushes(simulator, phone), key=lambda t: t["checkout"] != first["checkout"]
    )
    assert first_again["checkout"] == first["checkout"]
    payment = Payment.objects.get(pk=payment_id)
    assert payment.mpesa_receipt == second["receipt"]

    # The buyer paid the first prompt too, and Daraja delivers that callback late.
    resend(simulator, first["checkout"])
    held = Suspense.objects.get()
    assert (held.receipt, held.payment_id, held.reason) == (
        first["receipt"],
        payment.pk,
        Suspense.Reason.NOT_OPEN,
    )
    assert held.amount == payment.amount
    payment.refresh_from_db()
    assert (payment.status, payment.mpesa_receipt) == ("fulfilled", second["receipt"])
    assert events(payment_id, AdminEvent.Type.PAYMENT_PROCESSED) == 1
    assert len(pushes(simulator, phone)) == 2


def test_daraja_500s_that_recover_end_in_one_prompt(
    daraja_worker, live_server, simulator, knobs, on_sale
):
    phone = new_phone()
    knobs(phone_outcomes={phone: 0}, fail_next=2)  # the first two calls answer 500
    payment_id = buy(live_server.url, phone)

    assert settle([payment_id]) == {payment_id: "fulfilled"}
    assert len(pushes(simulator, phone)) == 1
    assert StkRequest.objects.filter(payment_id=payment_id).count() == 1
    assert events(payment_id, AdminEvent.Type.PAYMENT_PROCESSED) == 1
    assert events(payment_id, AdminEvent.Type.PAYMENT_FAILED) == 0
