"""Routers: seeded for development, checked every minute (reachability and resources)."""

import logging

from django.utils import timezone

from apps.common.queue import enqueue_on_commit
from apps.provisioning import routeros, selectors
from apps.provisioning.models import Router
from tasks import provisioning as provisioning_tasks

log = logging.getLogger("conveyor.provisioning")


def router_check(*, router_id: int) -> bool:
    """Record whether the router answers, and its resource figures."""
    router = selectors.router_get(router_id=router_id)
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


def routers_check() -> int:
    """The minute sweep: one check_router task per active router."""
    ids = selectors.router_ids_active()
    for router_id in ids:
        enqueue_on_commit(provisioning_tasks.check_router, router_id=router_id)
    return len(ids)


def router_seed(*, name: str, host: str, port: int, username: str, password: str) -> bool:
    """Create the router ``name`` unless it exists (its admin edits are kept); created?"""
    _, created = Router.objects.get_or_create(
        name=name, defaults={"host": host, "port": port, "username": username, "password": password}
    )
    return created
