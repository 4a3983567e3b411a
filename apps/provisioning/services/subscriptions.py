"""A paid payment becomes a Subscription and its RADIUS rows in the transaction that fulfils
the payment; the router is told afterwards by provisioning.provision_subscription, and a
subscription whose router job was lost is sent again by the minute sweep."""

import logging
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.common.queue import enqueue_on_commit
from apps.notifications.services import notify
from apps.ops.models import AdminEvent
from apps.ops.selectors import admin_event_payload
from apps.ops.services import event_emit
from apps.provisioning import routeros, selectors
from apps.provisioning.models import Router, Subscription
from apps.provisioning.radius import radius_rows_create
from apps.provisioning.results import ProvisionResult, RouterUserResult
from tasks import provisioning as provisioning_tasks

log = logging.getLogger("conveyor.provisioning")

Status = Subscription.Status
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 - typed on phones: no 0/o 1/l


def subscription_create_for_payment(*, payment, member) -> Subscription:
    """The hand-off from payments, inside the transaction that fulfils the payment: the
    subscription, its credentials and RADIUS rows, then the router job on commit. For a
    payment that already has one, nothing new is made."""
    existing = selectors.subscription_for_payment(payment=payment)
    if existing:
        return existing
    now = timezone.now()
    # The hotspot it was bought on; a payment made without one (none was active, or by an
    # older API) goes to the only active router, or to RADIUS alone. By id: the router row
    # itself (its password decrypted) is the provisioning task's to read.
    router_id = payment.router_id
    if router_id is None:
        sole = selectors.router_sole_active()
        router_id = sole and sole.pk
    subscription = Subscription.objects.create(
        payment=payment,
        member=member,
        package=payment.package,
        router_id=router_id,
        username=payment.reference.lower(),
        password="".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(8)),
        starts_at=now,
        ends_at=now + payment.package.duration,
    )
    radius_rows_create(subscription=subscription)
    enqueue_on_commit(provisioning_tasks.provision_subscription, subscription_id=subscription.pk)
    log.info(
        "subscription.created id=%s username=%s payment=%s ends_at=%s",
        subscription.pk,
        subscription.username,
        payment.pk,
        subscription.ends_at,
    )
    return subscription


def subscription_provision(*, subscription_id: int) -> ProvisionResult:
    """Put the subscription's user on its router; PROVISIONED, or SKIPPED when it is gone,
    not waiting for it, or past its end (a late or redelivered job must not bring an expired
    user back)."""
    sub = selectors.subscription_get(subscription_id=subscription_id)
    if (
        sub is None
        or sub.status not in (Status.PENDING, Status.FAILED)
        or sub.ends_at <= timezone.now()
    ):
        return ProvisionResult.SKIPPED
    outcome, started = RouterUserResult.RADIUS_ONLY, time.perf_counter()
    if sub.router is not None:
        outcome = _router_user_upsert(sub)
    router_ms = (time.perf_counter() - started) * 1000
    now = timezone.now()
    with transaction.atomic():
        moved = Subscription.objects.filter(
            pk=sub.pk, status__in=(Status.PENDING, Status.FAILED), ends_at__gt=now
        ).update(status=Status.PROVISIONED, provisioned_at=now, error="", updated_at=now)
        if moved:
            router = sub.router
            _event(
                AdminEvent.Type.USER_PROVISIONED,
                sub,
                router=router and {"id": router.pk, "name": router.name, "ip_address": router.host},
            )
            if router is not None:
                Router.objects.filter(pk=router.pk).update(last_seen_at=now, last_error="")
    if not moved and sub.router is not None and _ended(sub.pk, now):
        # Expiry ran (or the end passed) while we were at the router: take back our add.
        with routeros.session(sub.router) as api:
            routeros.user_remove(api, name=sub.username)
        log.info("subscription.provision_undone id=%s: it ended meanwhile", sub.pk)
        return ProvisionResult.SKIPPED
    log.info(
        "subscription.provisioned id=%s router=%s user=%s router_ms=%.1f",
        sub.pk,
        sub.router,
        outcome,
        router_ms,
    )
    return ProvisionResult.PROVISIONED


def subscription_buyer_tell(*, event_id: int, kind: str, payload: dict | None = None) -> int:
    """A listener of user_provisioned and provisioning_failed (config/events.py): an SMS to the
    buyer of the event's subscription, once per subscription and kind (a second provisioning
    after a failure sends the credentials; a rerun sends nothing new). Notices written."""
    payload = admin_event_payload(event_id=event_id, payload=payload)
    sub = None
    if payload is not None:
        sub = selectors.subscription_get_for_notice(subscription_id=payload["subscription"]["id"])
    if sub is None:
        log.warning("subscription.buyer_not_told event=%s kind=%s: gone", event_id, kind)
        return 0
    with transaction.atomic():
        return len(_tell_buyer(sub, kind))


def _tell_buyer(sub: Subscription, kind: str) -> list:
    return notify(
        member=sub.member,
        kind=kind,
        context={
            "operator": settings.OPERATOR_NAME,
            "package": sub.package.name,
            "username": sub.username,
            "password": sub.password,
            "valid_until": timezone.localtime(sub.ends_at).strftime("%d %b %Y %H:%M"),
            "reference": sub.payment_reference,
        },
        key=f"subscription:{sub.pk}:{kind}",
    )


def _router_user_upsert(sub: Subscription) -> RouterUserResult:
    with routeros.session(sub.router) as api:
        profile = f"{settings.ROUTER_PROFILE_PREFIX}{sub.package.code}"
        routeros.profile_ensure(api, name=profile, rate_limit=sub.package.rate_limit)
        outcome = routeros.user_upsert(
            api,
            name=sub.username,
            password=sub.password,
            profile=profile,
            limit_uptime=routeros.duration(int(sub.package.duration.total_seconds())),
            limit_bytes_total=sub.package.data_cap_bytes or 0,
            comment=f"conveyor:{sub.payment_reference}",
        )
    return outcome


def _ended(subscription_id: int, now) -> bool:
    """Expired, or past its end, as the database has it now."""
    return Subscription.objects.filter(
        Q(status=Status.EXPIRED) | Q(ends_at__lte=now), pk=subscription_id
    ).exists()


def subscription_provisioning_failed(*, subscription_id: int, error: str) -> bool:
    """The router job gave up: FAILED with the error (RADIUS still lets the user in), the
    event and the router's error recorded only by the call that marked it; marked?"""
    sub = selectors.subscription_get(subscription_id=subscription_id)
    if sub is None:
        return False
    with transaction.atomic():
        moved = Subscription.objects.filter(pk=sub.pk, status=Status.PENDING).update(
            status=Status.FAILED, error=error[:2000], updated_at=timezone.now()
        )
        if not moved:
            return False
        _event(AdminEvent.Type.PROVISIONING_FAILED, sub, router_id=sub.router_id, error=error)
        if sub.router_id:
            Router.objects.filter(pk=sub.router_id).update(last_error=error[:2000])
    return True


def subscriptions_reconcile() -> int:
    """The minute sweep: send provision_subscription again for a subscription still PENDING
    after PROVISION_NUDGE_AFTER (its message was lost: a worker killed, Redis flushed)."""
    before = timezone.now() - timedelta(seconds=settings.PROVISION_NUDGE_AFTER)
    stuck = selectors.subscription_ids_stuck(
        before=before, now=timezone.now(), limit=settings.PROVISIONING_SWEEP_BATCH
    )
    sent = 0
    for subscription_id in stuck:
        # Claimed by touching updated_at: overlapping sweeps send it once.
        if Subscription.objects.filter(pk=subscription_id, updated_at__lt=before).update(
            updated_at=timezone.now()
        ):
            enqueue_on_commit(
                provisioning_tasks.provision_subscription, subscription_id=subscription_id
            )
            sent += 1
    if sent:
        log.info("subscriptions.renudged count=%s", sent)
    return sent


def _event(type: str, sub: Subscription, **extra) -> None:
    event_emit(
        type=type,
        payload={
            "subscription": {
                "id": sub.pk,
                "user_id": sub.member_id,
                "username": sub.username,
                "package": sub.package.name,
                "end_time": sub.ends_at.isoformat(),
            },
            **extra,
        },
    )
