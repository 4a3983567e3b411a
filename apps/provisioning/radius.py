"""FreeRADIUS's rows, in the real schema with the real attribute names, so a stock rlm_sql
reads them: a plan group per package (radgroupreply: its rate limit, session timeout and data
cap) and, per user, only what is the user's own (radcheck: password, expiry, simultaneous use;
radusergroup: the plan)."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.provisioning.models import RadCheck, RadGroupReply, RadReply, RadUserGroup, Subscription

MAX_32 = 2**32
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# The group replies we own; rows staff add to a plan group by hand are left alone.
PLAN_ATTRIBUTES = (
    "Session-Timeout",
    "Mikrotik-Rate-Limit",
    "Mikrotik-Total-Limit",
    "Mikrotik-Total-Limit-Gigawords",
)


def plan_group(code: str) -> str:
    return f"plan-{code}"


def plan_replies(package) -> dict[str, str]:
    """The package's reply attributes, as FreeRADIUS sends them to the router."""
    replies = {"Session-Timeout": str(int(package.duration.total_seconds()))}
    if package.rate_limit:
        replies["Mikrotik-Rate-Limit"] = package.rate_limit
    if package.data_cap_bytes:
        # A 32-bit attribute: what does not fit goes in the Gigawords one.
        replies["Mikrotik-Total-Limit"] = str(package.data_cap_bytes % MAX_32)
        if package.data_cap_bytes >= MAX_32:
            replies["Mikrotik-Total-Limit-Gigawords"] = str(package.data_cap_bytes // MAX_32)
    return replies


def radius_group_write(*, package, previous_code: str | None = None) -> None:
    """Replace the package's plan group replies; with ``previous_code`` (the package's code
    was edited) its members move to the new group and the old group's rows go."""
    group = plan_group(package.code)
    with transaction.atomic():
        # Serialises writers of one plan (an admin edit, the first purchases of a package):
        # each replaces the rows whole, none adds to another's.
        type(package)._default_manager.select_for_update().filter(pk=package.pk).exists()
        groups = [group]
        if previous_code and previous_code != package.code:
            old = plan_group(previous_code)
            RadUserGroup.objects.filter(groupname=old).update(groupname=group)
            groups.append(old)
        RadGroupReply.objects.filter(groupname__in=groups, attribute__in=PLAN_ATTRIBUTES).delete()
        # "=": a per-user reply of the same attribute, if staff ever add one, wins.
        RadGroupReply.objects.bulk_create(
            [
                RadGroupReply(groupname=group, attribute=a, op="=", value=v)
                for a, v in plan_replies(package).items()
            ]
        )


def radius_group_ensure(*, package) -> None:
    """Write the plan group if it has no rows yet (a package made outside admin)."""
    if not RadGroupReply.objects.filter(groupname=plan_group(package.code)).exists():
        radius_group_write(package=package)


def radius_rows_create(*, subscription: Subscription) -> None:
    """The new subscription's own rows: radcheck and radusergroup (the plan carries the rest).
    Its username is new (its payment's reference, unique), so there is nothing to replace;
    inside the caller's transaction no savepoint is needed either: a failure here fails it."""
    name = subscription.username
    expires = timezone.localtime(subscription.ends_at, ZoneInfo(settings.RADIUS_TIME_ZONE))
    checks = {
        "Cleartext-Password": subscription.password,  # CHAP logins need it in clear
        "Expiration": radius_date(expires),
        "Simultaneous-Use": str(settings.RADIUS_SIMULTANEOUS_USE),
    }
    with transaction.atomic(savepoint=False):
        radius_group_ensure(package=subscription.package)
        RadCheck.objects.bulk_create(
            [RadCheck(username=name, attribute=a, op=":=", value=v) for a, v in checks.items()]
        )
        RadUserGroup.objects.create(
            username=name, groupname=plan_group(subscription.package.code), priority=1
        )


def radius_rows_delete(*, username: str) -> None:
    """Delete the user's rows: FreeRADIUS refuses the next login at once."""
    for table in (RadCheck, RadReply, RadUserGroup):
        table.objects.filter(username=username).delete()


def radius_date(moment) -> str:
    """FreeRADIUS's date, "Mar 15 2025 10:15:47", in English whatever the process locale."""
    return f"{MONTHS[moment.month - 1]} {moment:%d %Y %H:%M:%S}"
