"""The floor's four tasks: plain Celery tasks, each a statement or two and a message.

Each is safe to run twice in the way a redelivery (acks_late) would: the row it reads or the
conditional UPDATE it makes says whether its work is already done.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from bench.floor import africastalking, daraja, router
from bench.floor.celery import app
from bench.floor.models import Purchase


@app.task
def push(purchase_id: int) -> None:
    """Queued by a purchase: the STK push; Daraja calls back to stk_callback."""
    purchase = Purchase.objects.get(id=purchase_id)
    if purchase.checkout_id:
        return
    checkout = daraja.stk_push(
        phone=purchase.phone,
        amount=purchase.amount,
        reference=f"FL{purchase.id}",
        callback_url=f"{settings.FLOOR_CALLBACK_BASE}/floor/stk/{purchase.id}/",
    )
    Purchase.objects.filter(id=purchase_id).update(checkout_id=checkout)


@app.task
def fulfil(purchase_id: int) -> None:
    """Queued by a paid callback: PAID -> FULFILLED, then the router."""
    moved = Purchase.objects.filter(id=purchase_id, status=Purchase.Status.PAID).update(
        status=Purchase.Status.FULFILLED, fulfilled_at=timezone.now()
    )
    if moved:
        provision.delay(purchase_id)


@app.task
def provision(purchase_id: int) -> None:
    """Queued by fulfil: the hotspot user on the router, then the buyer's SMS."""
    purchase = Purchase.objects.get(id=purchase_id)
    if purchase.provisioned_at:
        return
    password = secrets.token_urlsafe(6)
    router.hotspot_user_add(
        name=f"fl{purchase.id}", password=password, profile="default", limit_uptime="1h"
    )
    Purchase.objects.filter(id=purchase_id).update(password=password, provisioned_at=timezone.now())
    sms.delay(purchase_id)


@app.task
def sms(purchase_id: int) -> None:
    """Queued by provision: the buyer's WiFi credentials by SMS; the gateway reports its
    delivery to views.sms_report."""
    purchase = Purchase.objects.get(id=purchase_id)
    if purchase.message_id:
        return
    until = purchase.provisioned_at + timedelta(hours=1)
    message_id = africastalking.send(
        to=f"+{purchase.phone}",
        message=f"Floor WiFi: your 1h is ready. Username: fl{purchase.id} Password: "
        f"{purchase.password} Valid until {until:%d %b %Y %H:%M}. Ref FL{purchase.id}",
    )
    Purchase.objects.filter(id=purchase_id).update(
        message_id=message_id, sms_sent_at=timezone.now()
    )
