"""The provisioning queue: routers and RADIUS. Pool and policy: config/queues.py (5 attempts,
backoff 5, 15, 30, 60, 120 s). Every task takes ids as keyword arguments and is safe to run
twice."""

from config.celery import app


def _provisioning_failed(task, exc, args, kwargs) -> None:
    from apps.provisioning.services import subscription_provisioning_failed

    subscription_provisioning_failed(
        subscription_id=int(kwargs["subscription_id"]), error=f"{type(exc).__name__}: {exc}"
    )


@app.task(final_failure=_provisioning_failed)
def provision_subscription(subscription_id: str) -> str:
    """After a subscription is created (or retried): put its user on the router. Safe to
    rerun: the user is looked up by name and updated, a duplicate name counts as done."""
    from apps.provisioning.services import subscription_provision

    return subscription_provision(subscription_id=int(subscription_id))


@app.task(unique_for=300)
def reconcile_subscriptions() -> int:
    """Beat, every minute: send again the router job of subscriptions stuck PENDING. Safe to
    rerun: each one is claimed first, and provisioning twice updates the same user."""
    from apps.provisioning.services import subscriptions_reconcile

    return subscriptions_reconcile()


@app.task
def expire_subscription(subscription_id: str) -> str:
    """From the expiry sweep: take an ended subscription off RADIUS and its router. Safe to
    rerun: what is already gone is skipped."""
    from apps.provisioning.services import subscription_expire

    return subscription_expire(subscription_id=int(subscription_id))


@app.task
def expire_subscriptions() -> int:
    """Beat, every 5 minutes: one expire_subscription per subscription past its end. Safe to
    rerun: expiring twice finds nothing the second time."""
    from apps.provisioning.services import subscriptions_expire

    return subscriptions_expire()


@app.task
def check_router(router_id: str) -> bool:
    """From check_routers: record one router's reachability and resources. Read only."""
    from apps.provisioning.services import router_check

    return router_check(router_id=int(router_id))


@app.task
def check_routers() -> int:
    """Beat, every minute: one check_router per active router. Read only."""
    from apps.provisioning.services import routers_check

    return routers_check()


@app.task
def send_wifi_credentials(event_id: str, payload: dict | None = None) -> int:
    """Listener of user_provisioned (config/events.py): the buyer's credentials by SMS, written
    here and delivered on the notifications queue. Safe to rerun: one notice per subscription
    and kind (its key)."""
    from apps.provisioning.services import subscription_buyer_tell

    return subscription_buyer_tell(event_id=int(event_id), kind="wifi_credentials", payload=payload)


@app.task
def send_provisioning_delayed(event_id: str, payload: dict | None = None) -> int:
    """Listener of provisioning_failed: the buyer hears we are on it. Safe to rerun, as above."""
    from apps.provisioning.services import subscription_buyer_tell

    return subscription_buyer_tell(
        event_id=int(event_id), kind="provisioning_delayed", payload=payload
    )
