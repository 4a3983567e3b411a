"""Ingest: Daraja success callbacks for waiting payments, as fast as the web tier answers
them (closed loop), against the whole stack (devstack.stack.Stack) and against the floor's
callback view (bench/floor). Each accepted callback marks a payment PAID and enqueues its
processing, which the pools do meanwhile; the next part starts once every one of them is on
the router and its SMS reported delivered."""

import functools
import json

from apps.common.stats import percentile
from apps.notifications.models import Channel, Notification, Status
from apps.payments.models import Package, Payment, StkRequest
from apps.provisioning.models import Subscription
from bench import http_load
from devstack.processes import wait_for


def stk_success(checkout: str, receipt: str, phone: str, amount: int) -> bytes:
    """Daraja's callback for a paid push (docs: EXTERNAL-FORMATS.md)."""
    items = [
        {"Name": "Amount", "Value": amount},
        {"Name": "MpesaReceiptNumber", "Value": receipt},
        {"Name": "Balance"},
        {"Name": "TransactionDate", "Value": 20261123101547},
        {"Name": "PhoneNumber", "Value": int(phone)},
    ]
    callback = {
        "MerchantRequestID": f"m-{checkout}",
        "CheckoutRequestID": checkout,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": items},
    }
    return json.dumps({"Body": {"stkCallback": callback}}).encode()


def _waiting_payments(count: int, tag: str) -> list[tuple[str, bytes]]:
    """``count`` payments with an accepted push each, and the success callback of each."""
    package = Package.objects.get(code="1h")
    payments = [
        Payment(
            package=package, phone=f"2547{i:08d}", amount=package.price, reference=f"H{tag}{i:06d}"
        )
        for i in range(count)
    ]
    Payment.objects.bulk_create(payments, batch_size=1000)
    StkRequest.objects.bulk_create(
        [
            StkRequest(payment=p, checkout_request_id=f"ws_CO_{tag}{i:07d}")
            for i, p in enumerate(payments)
        ],
        batch_size=1000,
    )
    body = functools.partial(stk_success, amount=int(package.price))
    return [
        ("/hooks/stk/dev-hooks/", body(f"ws_CO_{tag}{i:07d}", f"B{tag}{i:08d}", p.phone))
        for i, p in enumerate(payments)
    ]


def _floor_waiting(floor, count: int) -> list[tuple[str, bytes]]:
    return [
        (f"/floor/stk/{pk}/", stk_success(f"ws_CO_F{pk:07d}", f"BF{pk:08d}", "254700000000", 10))
        for pk in floor.waiting(count)
    ]


def _drained() -> bool:
    """Nothing paid left to process, to provision, or to text (its report still to come)."""
    return not (
        Payment.objects.filter(status=Payment.Status.PAID).exists()
        or Subscription.objects.filter(status=Subscription.Status.PENDING).exists()
        or Notification.objects.filter(
            channel=Channel.SMS, status__in=(Status.PENDING, Status.SENDING, Status.SENT)
        ).exists()
    )


def ingest(stack, floor, count: int, clients: int = 32) -> list[dict]:
    """STK success callbacks from ``clients`` at once (closed loop), the pools processing what
    is accepted: the product's hook against the floor's callback view, one after the other."""
    figures = {}
    since = floor.last_id()

    def floor_drained() -> bool:
        return floor.done(since)["sms delivered"] >= count

    for name, port, offered, drained in (
        ("Conveyor", stack.web_port, _waiting_payments(count, "A"), _drained),
        ("floor", floor.web_port, _floor_waiting(floor, count), floor_drained),
    ):
        results, elapsed = http_load.closed_loop("127.0.0.1", port, offered, clients)
        ok = [r.ms for r in results if r.status == 200]
        figures[name] = (len(ok) / elapsed, percentile(ok, 50), percentile(ok, 99), len(ok))
        wait_for(drained, timeout=600, interval=1, what=f"{name}'s paid backlog to be done")
    rows = [
        {
            "measure": f"ingest: STK callbacks accepted per second, {name}",
            "value": round(rate),
            "setup": f"{count} callbacks from {clients} clients (closed loop), the pools "
            f"processing them; {ok} answered 200; accept p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        }
        for name, (rate, p50, p99, ok) in figures.items()
    ]
    ratio = figures["Conveyor"][0] / figures["floor"][0]
    rows.append(
        {
            "measure": "ingest: Conveyor / floor callbacks per second",
            "value": f"{ratio:.2f}",
            "setup": f"goal >= 0.67: {'met' if ratio >= 0.67 else 'NOT MET'}",
        }
    )
    return rows
