"""Payments under load, against the whole stack (bench.stack.Stack).

- Ingest: Daraja success callbacks for waiting payments, sent at a fixed offered rate
  (open loop: answers do not slow the sender) and then as fast as the web tier answers
  (closed loop). Each accepted callback marks a payment PAID and enqueues its processing,
  which the payments pool does meanwhile.
- End to end: purchases at a steady rate through /api/purchases/, with the simulator
  answering at once (no customer typing a PIN); purchase to FULFILLED from the database's
  timestamps.
"""

import json
import time
import uuid

import requests

from apps.common.stats import percentile
from apps.payments.models import Package, Payment, StkRequest
from bench import http_load
from devstack.processes import wait_for


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
    path = "/hooks/stk/dev-hooks/"
    return [
        (
            path,
            json.dumps(
                {
                    "Body": {
                        "stkCallback": {
                            "MerchantRequestID": f"m-{tag}-{i}",
                            "CheckoutRequestID": f"ws_CO_{tag}{i:07d}",
                            "ResultCode": 0,
                            "ResultDesc": "The service request is processed successfully.",
                            "CallbackMetadata": {
                                "Item": [
                                    {"Name": "Amount", "Value": int(package.price)},
                                    {"Name": "MpesaReceiptNumber", "Value": f"B{tag}{i:08d}"},
                                    {"Name": "Balance"},
                                    {"Name": "TransactionDate", "Value": 20261123101547},
                                    {"Name": "PhoneNumber", "Value": int(f"2547{i:08d}")},
                                ]
                            },
                        }
                    }
                }
            ).encode(),
        )
        for i in range(count)
    ]


def _drained() -> bool:
    return not Payment.objects.filter(status=Payment.Status.PAID).exists()


def ingest(stack, rate: float, seconds: float, saturate: int) -> list[dict]:
    offered = _waiting_payments(int(rate * seconds), "A")
    results, elapsed = http_load.open_loop("127.0.0.1", stack.web_port, offered, rate)
    ok = [r.ms for r in results if r.status == 200]
    rows = [
        {
            "measure": f"ingest: callbacks accepted at {rate:.0f}/s offered (per s)",
            "value": round(len(ok) / elapsed),
            "setup": f"{len(offered)} STK success callbacks, "
            f"open loop, {len(results) - len(ok)} not 200",
        },
        {
            "measure": f"ingest: accept latency p50 / p99 at {rate:.0f}/s (ms)",
            "value": f"{percentile(ok, 50):.1f} / {percentile(ok, 99):.1f}",
            "setup": "goal: >= 300/s with p99 < 50 ms",
        },
    ]
    wait_for(_drained, timeout=600, interval=1, what="the paid backlog to be fulfilled")
    for tag, pools in (("B", "running"), ("C", "paused")):
        if pools == "paused":  # the web tier alone: the same callbacks, nothing consuming them
            stack.supervisorctl("stop", "workers:*")
        burst = _waiting_payments(saturate, tag)
        results, elapsed = http_load.closed_loop("127.0.0.1", stack.web_port, burst, 32)
        ok = [r.ms for r in results if r.status == 200]
        rows.append(
            {
                "measure": f"ingest: most callbacks accepted per second, pools {pools}",
                "value": round(len(ok) / elapsed),
                "setup": f"{saturate} callbacks from 32 clients (closed loop); "
                f"p50 {percentile(ok, 50):.1f} ms, p99 {percentile(ok, 99):.1f} ms",
            }
        )
    stack.supervisorctl("start", "workers:*")
    wait_for(_drained, timeout=600, interval=1, what="the paid backlog to be fulfilled")
    return rows


def end_to_end(stack, simulator_url: str, rate: float, seconds: float) -> list[dict]:
    requests.post(
        f"{simulator_url}/simulator/config",
        json={"callback_delay": 0.0, "outcomes": {"0": 1}},
        timeout=5,
    ).raise_for_status()
    prefix = f"2547{uuid.uuid4().int % 100:02d}"  # this run's buyers: its payments, no others
    purchases = [
        ("/api/purchases/", json.dumps({"phone": f"{prefix}{i:06d}", "package": "1h"}).encode())
        for i in range(int(rate * seconds))
    ]
    started = time.time()
    results, _ = http_load.open_loop("127.0.0.1", stack.web_port, purchases, rate)
    accepted = [r for r in results if r.status == 202]
    recent = Payment.objects.filter(created_at__gte=_aware(started), phone__startswith=prefix)
    wait_for(
        lambda: not recent.exclude(status=Payment.Status.FULFILLED).exists(),
        timeout=300,
        interval=1,
        what="every purchase to be fulfilled",
    )
    took = [
        (p.fulfilled_at - p.created_at).total_seconds() * 1000
        for p in recent.only("created_at", "fulfilled_at")
    ]
    return [
        {
            "measure": f"end to end: purchase to FULFILLED p50 / p99 at {rate:.0f}/s (ms)",
            "value": f"{percentile(took, 50):.0f} / {percentile(took, 99):.0f}",
            "setup": f"{len(accepted)} purchases accepted, {len(took)} fulfilled; the simulator "
            "answers at once; goal p99 < 1000 ms",
        }
    ]


def _aware(epoch: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch - 1, tz=UTC)
