"""Writes of the provisioning domain: subscriptions, FreeRADIUS rows, routers.

A paid payment becomes a Subscription and its RADIUS rows in the transaction that fulfils
the payment; the router is told afterwards by provisioning.provision_subscription, and an
ended subscription is taken off both by provisioning.expire_subscription. Each step is
safe to run twice: rows are replaced, routers are looked up by name, and status changes
are conditional updates.
"""

import logging
import secrets
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.common.queue import enqueue_on_commit
from apps.ops.models import AdminEvent
from apps.ops.services import admin_event_emit
from apps.provisioning import routeros
from apps.provisioning.models import RadCheck, RadReply, RadUserGroup, Router, Subscription
from tasks import provisioning as provisioning_tasks

log = logging.getLogger("conveyor.provisioning")

Status = Subscription.Status
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 - typed on phones: no 0/o 1/l
MAX_32 = 2**32
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def subscription_create_for_payment(*, payment, member) -> Subscription:
    """The hand-off from payments, inside the transaction that fulfils the payment: the
    subscription, its credentials and RADIUS rows, then the router job on commit. For a
    payment that already has one, nothing new is made."""
    existing = Subscription.objects.filter(payment=payment).first()
    if existing:
        return existing
    now = timezone.now()
    subscription = Subscription.objects.create(
        payment=payment,
        member=member,
        package=payment.package,
        router=Router.objects.filter(is_active=True).order_by("pk").first(),
        username=payment.reference.lower(),
        password="".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(8)),
        starts_at=now,
        ends_at=now + payment.package.duration,
    )
    radius_rows_write(subscription)
    enqueue_on_commit(provisioning_tasks.provision_subscription, subscription_id=subscription.pk)
    log.info(
        "subscription.created id=%s username=%s payment=%s ends_at=%s",
        subscription.pk,
        subscription.username,
        payment.pk,
        subscription.ends_at,
    )
    return subscription


def radius_rows_write(subscription: Subscription) -> None:
    """Replace the user's rows in radcheck, radreply and radusergroup."""
    package = subscription.package
    name = subscription.username
    expires = timezone.localtime(subscription.ends_at, ZoneInfo(settings.RADIUS_TIME_ZONE))
    checks = {
        "Cleartext-Password": subscription.password,  # CHAP logins need it in clear
        "Expiration": radius_date(expires),
        "Simultaneous-Use": str(settings.RADIUS_SIMULTANEOUS_USE),
    }
    replies = {"Session-Timeout": str(int(package.duration.total_seconds()))}
    if package.rate_limit:
        replies["Mikrotik-Rate-Limit"] = package.rate_limit
    if package.data_cap_bytes:
        # A 32-bit attribute: what does not fit goes in the Gigawords one.
        replies["Mikrotik-Total-Limit"] = str(package.data_cap_bytes % MAX_32)
        if package.data_cap_bytes >= MAX_32:
            replies["Mikrotik-Total-Limit-Gigawords"] = str(package.data_cap_bytes // MAX_32)
    with transaction.atomic():
        radius_rows_delete(name)
        RadCheck.objects.bulk_create(
            [RadCheck(username=name, attribute=a, op=":=", value=v) for a, v in checks.items()]
        )
        RadReply.objects.bulk_create(
            [RadReply(username=name, attribute=a, op=":=", value=v) for a, v in replies.items()]
        )
        RadUserGroup.objects.create(username=name, groupname=f"plan-{package.code}", priority=1)


def radius_date(moment) -> str:
    """FreeRADIUS's date, "Mar 15 2025 10:15:47", in English whatever the process locale."""
    return f"{MONTHS[moment.month - 1]} {moment:%d %Y %H:%M:%S}"


def radius_rows_delete(username: str) -> None:
    for table in (RadCheck, RadReply, RadUserGroup):
        table.objects.filter(username=username).delete()


def subscription_provision(*, subscription_id: int) -> str:
    """Put the subscription's user on its router; "provisioned" or why not."""
    sub = (
        Subscription.objects.select_related("router", "package", "member")
        .filter(pk=subscription_id)
        .first()
    )
    if sub is None or sub.status not in (Status.PENDING, Status.FAILED):
        return "skipped"
    outcome, started = "radius only", time.perf_counter()  # no router: RADIUS alone
    if sub.router is not None:
        outcome = _router_user_upsert(sub)
    router_ms = (time.perf_counter() - started) * 1000
    now = timezone.now()
    with transaction.atomic():
        moved = Subscription.objects.filter(
            pk=sub.pk, status__in=(Status.PENDING, Status.FAILED)
        ).update(status=Status.PROVISIONED, provisioned_at=now, error="", updated_at=now)
        if moved:
            router = sub.router
            _event(
                AdminEvent.Type.USER_PROVISIONED,
                sub,
                router=router and {"id": router.pk, "name": router.name, "ip_address": router.host},
            )
    if sub.router is not None:
        Router.objects.filter(pk=sub.router.pk).update(last_seen_at=now, last_error="")
    log.info(
        "subscription.provisioned id=%s router=%s user=%s router_ms=%.1f",
        sub.pk,
        sub.router,
        outcome,
        router_ms,
    )
    return "provisioned"


def _router_user_upsert(sub: Subscription) -> str:
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
            comment=f"conveyor:{sub.payment.reference}",
        )
    return outcome


def subscription_provisioning_failed(*, subscription_id: int, error: str) -> None:
    """The router job gave up: FAILED with the error (RADIUS still lets the user in)."""
    sub = Subscription.objects.select_related("router", "package").filter(pk=subscription_id)
    sub = sub.first()
    if sub is None:
        return
    with transaction.atomic():
        Subscription.objects.filter(pk=sub.pk, status=Status.PENDING).update(
            status=Status.FAILED, error=error[:2000], updated_at=timezone.now()
        )
        _event(AdminEvent.Type.PROVISIONING_FAILED, sub, router_id=sub.router_id, error=error)
    if sub.router_id:
        Router.objects.filter(pk=sub.router_id).update(last_error=error[:2000])


def subscriptions_reconcile() -> int:
    """The minute sweep: send provision_subscription again for a subscription still PENDING
    after PROVISION_NUDGE_AFTER (its message was lost: a worker killed, Redis flushed)."""
    before = timezone.now() - timedelta(seconds=settings.PROVISION_NUDGE_AFTER)
    stuck = Subscription.objects.filter(
        status=Status.PENDING,
        created_at__lt=before,
        updated_at__lt=before,
        ends_at__gt=timezone.now(),
    ).values_list("pk", flat=True)[: settings.EXPIRE_BATCH]
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


def subscriptions_expire_due() -> int:
    """The 5-minute sweep: one expire_subscription task per subscription past its end."""
    due = Subscription.objects.filter(
        ends_at__lte=timezone.now(),
        status__in=(Status.PENDING, Status.PROVISIONED, Status.FAILED),
    ).values_list("pk", flat=True)[: settings.EXPIRE_BATCH]
    for subscription_id in due:
        enqueue_on_commit(provisioning_tasks.expire_subscription, subscription_id=subscription_id)
    return len(due)


def subscription_expire(*, subscription_id: int) -> str:
    """Take an ended subscription off RADIUS and its router, kick its session: EXPIRED."""
    sub = Subscription.objects.select_related("router").filter(pk=subscription_id).first()
    if sub is None or sub.status == Status.EXPIRED:
        return "skipped"
    if sub.ends_at > timezone.now():
        return "not due"
    radius_rows_delete(sub.username)  # RADIUS refuses at once, even if the router is away
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
    return "expired"


def router_check(*, router_id: int) -> bool:
    """Record whether the router answers, and its resource figures."""
    router = Router.objects.filter(pk=router_id).first()
    if router is None:
        return False
    now = timezone.now()
    try:
        with routeros.session(router) as api:
            figures = routeros.resources(api)
    except (routeros.RouterUnavailable, routeros.RouterRefused) as exc:
        Router.objects.filter(pk=router.pk).update(last_error=str(exc)[:2000], checked_at=now)
        log.warning("router.unreachable id=%s error=%s", router.pk, exc)
        return False
    Router.objects.filter(pk=router.pk).update(
        resources=figures, last_seen_at=now, checked_at=now, last_error=""
    )
    return True


def router_seed(*, name: str, host: str, port: int, username: str, password: str) -> bool:
    """Create the router ``name`` unless it exists (its admin edits are kept); created?"""
    _, created = Router.objects.get_or_create(
        name=name, defaults={"host": host, "port": port, "username": username, "password": password}
    )
    return created


def routers_check_all() -> int:
    ids = list(Router.objects.filter(is_active=True).values_list("pk", flat=True))
    for router_id in ids:
        enqueue_on_commit(provisioning_tasks.check_router, router_id=router_id)
    return len(ids)


def _event(type: str, sub: Subscription, **extra) -> None:
    admin_event_emit(
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
