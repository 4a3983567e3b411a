"""The floor's three tasks: plain Celery tasks, each a statement or two and a message.

Each is safe to run twice in the way a redelivery (acks_late) would: the row it reads or the
conditional UPDATE it makes says whether its work is already done.
"""

import secrets

from django.conf import settings
from django.utils import timezone

from bench.floor import daraja, router
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
    """Queued by fulfil: the hotspot user on the router."""
    purchase = Purchase.objects.get(id=purchase_id)
    if purchase.provisioned_at:
        return
    router.hotspot_user_add(
        name=f"fl{purchase.id}",
        password=secrets.token_urlsafe(6),
        profile="default",
        limit_uptime="1h",
    )
    Purchase.objects.filter(id=purchase_id).update(provisioned_at=timezone.now())
