"""What provisioning's steps answer: strings in logs and task results, named once here."""

from enum import StrEnum


class ProvisionResult(StrEnum):
    PROVISIONED = "provisioned"
    SKIPPED = "skipped"  # gone, or no longer pending or failed


class ExpiryResult(StrEnum):
    EXPIRED = "expired"
    NOT_DUE = "not due"
    SKIPPED = "skipped"  # gone, or expired already


class RouterUserResult(StrEnum):
    """What the router step did to the hotspot user (logged as user=...)."""

    ADDED = "added"
    UPDATED = "updated"
    RADIUS_ONLY = "radius only"  # no router: RADIUS alone lets the user in
