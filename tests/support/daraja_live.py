"""Helpers for the tests that run over sockets: a purchase through the live server, the
simulator's record of a phone's pushes, waiting for payments to settle and for the portal to
show the user provisioned."""

import time
import uuid

import requests

from apps.ops.models import AdminEvent
from apps.payments.models import Payment
from devstack.processes import wait_for
from tasks.payments import reconcile_payments

FINAL = {"fulfilled", "failed", "cancelled"}


def new_phone() -> str:
    return f"2547{uuid.uuid4().int % 10**8:08d}"


def buy(base_url: str, phone: str, package: str = "1h") -> str:
    response = requests.post(
        f"{base_url}/api/purchases/", json={"phone": phone, "package": package}, timeout=30
    )
    assert response.status_code == 202, response.text
    return response.json()["payment_id"]


def provisioned(base_url: str, payment_id: str, timeout: float = 60) -> dict:
    """Poll the payment as the portal does until it shows its subscription provisioned."""

    def done():
        state = requests.get(f"{base_url}/api/payments/{payment_id}/", timeout=30)
        subscription = state.json().get("subscription", {})
        return subscription.get("status") == "provisioned" and subscription

    return wait_for(done, timeout=timeout, what="the user to be provisioned")


def pushes(simulator, phone: str) -> list[dict]:
    """Every STK push the simulator took for ``phone``: each one prompted the buyer."""
    url = f"{simulator.url}/simulator/transactions"
    return requests.get(url, params={"phone": phone}, timeout=5).json()["transactions"]


def resend(simulator, checkout: str, code: int | None = None) -> dict:
    """Daraja delivers a push's callback (again, late), with ``code`` if given."""
    body = {"checkout": checkout} if code is None else {"checkout": checkout, "code": code}
    response = requests.post(f"{simulator.url}/simulator/resend", json=body, timeout=15)
    assert response.status_code == 200, response.text
    return response.json()


def settle(ids: list[str], timeout: float = 90, final=FINAL) -> dict[str, str]:
    """Wait until every payment is in ``final``, sending the reconciler as beat would (faster)."""
    last = [0.0]

    def done():
        if time.monotonic() - last[0] > 1.5:
            reconcile_payments.delay()
            last[0] = time.monotonic()
        states = dict(Payment.objects.filter(pk__in=ids).values_list("pk", "status"))
        return (
            len(states) == len(ids)
            and all(s in final for s in states.values())
            and {str(k): v for k, v in states.items()}
        )

    return wait_for(done, timeout=timeout, interval=0.25, what=f"{len(ids)} payments to settle")


def events(payment_id, type_: str) -> int:
    return AdminEvent.objects.filter(type=type_, payload__payment__id=str(payment_id)).count()
