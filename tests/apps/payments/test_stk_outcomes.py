"""What the STK query settles, over HTTP with a real payments worker and the Daraja simulator,
each outcome pinned per phone (never a random mix): callbacks are dropped, so only the
reconciler's query can settle, and late callbacks are delivered by the simulator on cue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.ops.models import AdminEvent
from apps.payments.models import Payment, StkRequest, Suspense
from devstack.processes import wait_for
from tasks.payments import reconcile_payments
from tests.support.daraja_live import buy, events, new_phone, pushes, resend, settle

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("code, status", [(1032, "cancelled"), (1037, "failed"), (1, "failed")])
def test_a_query_answering_a_failure_settles_it(
    daraja_worker, live_server, simulator, knobs, on_sale, code, status
):
    phone = new_phone()
    knobs(phone_outcomes={phone: code}, drop_rate=1.0)
    payment_id = buy(live_server.url, phone)

    assert settle([payment_id]) == {payment_id: status}
    payment = Payment.objects.get(pk=payment_id)
    assert payment.result_code == str(code)
    assert "stk_query" in payment.raw_callback  # the query settled it, not a callback
    stk = StkRequest.objects.get(payment=payment)
    assert stk.query_result == str(code)
    assert len(pushes(simulator, phone)) == 1
    assert events(payment_id, AdminEvent.Type.PAYMENT_FAILED) == 1
    assert events(payment_id, AdminEvent.Type.PAYMENT_PROCESSED) == 0


def test_still_processing_keeps_it_pending_until_it_expires(
    daraja_worker, live_server, simulator, knobs, on_sale
):
    phone = new_phone()
    # The buyer never answers within the test: Daraja's query says "being processed".
    knobs(phone_outcomes={phone: 0}, callback_delay=3600.0)
    payment_id = buy(live_server.url, phone)
    stk = wait_for(
        lambda: StkRequest.objects.filter(payment_id=payment_id).first(), what="the push"
    )

    def queried():
        reconcile_payments.delay()
        stk.refresh_from_db()
        return stk.query_result == "500.001.1001"

    wait_for(queried, timeout=60, interval=1.0, what="a query answering 'being processed'")
    payment = Payment.objects.get(pk=payment_id)
    assert payment.status == "pending"  # no final word is not a failure

    # Its time runs out (PAYMENT_EXPIRE_AFTER is 300 s here: age it past that).
    then = timezone.now() - timedelta(seconds=400)
    Payment.objects.filter(pk=payment_id).update(created_at=then)
    assert settle([payment_id]) == {payment_id: "failed"}
    payment.refresh_from_db()
    assert payment.result_code == "expired"
    assert events(payment_id, AdminEvent.Type.PAYMENT_FAILED) == 1
    assert len(pushes(simulator, phone)) == 1


def query_paid(simulator, live_server, knobs) -> tuple[str, str, dict]:
    phone = new_phone()
    knobs(phone_outcomes={phone: 0}, drop_rate=1.0)
    payment_id = buy(live_server.url, phone)
    assert settle([payment_id]) == {payment_id: "fulfilled"}
    payment = Payment.objects.get(pk=payment_id)
    assert payment.mpesa_receipt is None and "stk_query" in payment.raw_callback
    [push] = pushes(simulator, phone)
    return payment_id, phone, push


def test_a_late_success_callback_after_the_query_paid_records_the_receipt_once(
    daraja_worker, live_server, simulator, knobs, on_sale
):
    payment_id, _, push = query_paid(simulator, live_server, knobs)

    answer = resend(simulator, push["checkout"])
    assert answer["receipt"] == push["receipt"]
    payment = wait_for(
        lambda: (p := Payment.objects.get(pk=payment_id)).mpesa_receipt and p,
        what="the late callback's receipt",
    )
    assert payment.mpesa_receipt == push["receipt"]
    assert payment.status == "fulfilled"
    assert not Suspense.objects.exists()
    resend(simulator, push["checkout"])  # and once more: a replay
    assert settle([payment_id]) == {payment_id: "fulfilled"}
    assert events(payment_id, AdminEvent.Type.PAYMENT_PROCESSED) == 1
    assert not Suspense.objects.exists()
    assert payment.subscription is not None


def test_a_late_failure_callback_after_a_query_success_changes_nothing(
    daraja_worker, live_server, simulator, knobs, on_sale
):
    payment_id, _, push = query_paid(simulator, live_server, knobs)

    assert resend(simulator, push["checkout"], code=1037)["code"] == 1037
    assert settle([payment_id]) == {payment_id: "fulfilled"}
    payment = Payment.objects.get(pk=payment_id)
    assert (payment.status, payment.result_code) == ("fulfilled", "0")
    assert events(payment_id, AdminEvent.Type.PAYMENT_FAILED) == 0
    assert events(payment_id, AdminEvent.Type.PAYMENT_PROCESSED) == 1
