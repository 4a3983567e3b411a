"""Writes of the provisioning domain: subscriptions, their expiry, routers.

Each step is safe to run twice: RADIUS rows are replaced (apps/provisioning/radius.py),
router users are looked up by name (apps/provisioning/routeros.py), and status changes are
conditional updates.
"""

from apps.provisioning.radius import radius_group_write
from apps.provisioning.services.expiry import (
    subscription_end_now,
    subscription_expire,
    subscriptions_expire,
)
from apps.provisioning.services.routers import router_check, router_seed, routers_check
from apps.provisioning.services.secrets import secrets_rotate
from apps.provisioning.services.subscriptions import (
    subscription_buyer_tell,
    subscription_create_for_payment,
    subscription_provision,
    subscription_provisioning_failed,
    subscriptions_reconcile,
)

__all__ = [
    "radius_group_write",
    "router_check",
    "router_seed",
    "routers_check",
    "secrets_rotate",
    "subscription_buyer_tell",
    "subscription_create_for_payment",
    "subscription_end_now",
    "subscription_expire",
    "subscription_provision",
    "subscription_provisioning_failed",
    "subscriptions_expire",
    "subscriptions_reconcile",
]
