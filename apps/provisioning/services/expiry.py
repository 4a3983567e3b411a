"""An ended subscription is taken off RADIUS and its router: the 5-minute sweep sends one
provisioning.expire_subscription per subscription past its end."""

import logging

from django.conf import settings
from django.utils import timezone

from apps.common.queue import enqueue_on_commit
from apps.provisioning import routeros, selectors
from apps.provisioning.models import Subscription
from apps.provisioning.radius import radius_rows_delete
from apps.provisioning.results import ExpiryResult
from tasks import provisioning as provisioning_tasks

log = logging.getLogger("conveyor.provisioning")

Status = Subscription.Status


def subscriptions_expire() -> int:
    """The 5-minute sweep: one expire_subscription task per subscription past its end."""
    due = selectors.subscription_ids_due(
        now=timezone.now(), limit=settings.PROVISIONING_SWEEP_BATCH
    )
    for subscription_id in due:
        enqueue_on_commit(provisioning_tasks.expire_subscription, subscription_id=subscription_id)
    return len(due)


def subscription_end_now(*, payment_id) -> bool:
    """The access a payment bought ends now (its money was refunded): its end moves to now
    and expire_subscription takes it off RADIUS and its router as at a natural end (the sweep
    sends it again if that message is lost). False when it had ended already."""
    now = timezone.now()
    sub = Subscription.objects.filter(payment_id=payment_id).exclude(status=Status.EXPIRED).first()
    if sub is None:
        return False
    Subscription.objects.filter(pk=sub.pk, ends_at__gt=now).update(ends_at=now, updated_at=now)
    enqueue_on_commit(provisioning_tasks.expire_subscription, subscription_id=sub.pk)
    log.info("subscription.ended_now id=%s payment=%s", sub.pk, payment_id)
    return True


def subscription_expire(*, subscription_id: int) -> ExpiryResult:
    """Take an ended subscription off RADIUS and its router, kick its session: EXPIRED."""
    sub = selectors.subscription_get(subscription_id=subscription_id)
    if sub is None or sub.status == Status.EXPIRED:
        return ExpiryResult.SKIPPED
    if sub.ends_at > timezone.now():
        return ExpiryResult.NOT_DUE
    radius_rows_delete(username=sub.username)  # RADIUS refuses at once, even if the router is away
    kicked = 0
    if sub.router is not None:
        with routeros.session(sub.router) as api:
            kicked = routeros.sessions_kick(api, user=sub.username)
            routeros.user_remove(api, name=sub.username)
    now = timezone.now()
    Subscription.objects.filter(pk=sub.pk).exclude(status=Status.EXPIRED).update(
        status=Status.EXPIRED, expired_at=now, updated_at=now
    )
    log.info("subscription.expired id=%s user=%s sessions_kicked=%s", sub.pk, sub.username, kicked)
    return ExpiryResult.EXPIRED
