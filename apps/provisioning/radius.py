"""FreeRADIUS's rows for one user: radcheck, radreply and radusergroup, in the real schema
with the real attribute names, so a stock rlm_sql reads them."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.provisioning.models import RadCheck, RadReply, RadUserGroup, Subscription

MAX_32 = 2**32
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def radius_rows_write(*, subscription: Subscription) -> None:
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
        radius_rows_delete(username=name)
        RadCheck.objects.bulk_create(
            [RadCheck(username=name, attribute=a, op=":=", value=v) for a, v in checks.items()]
        )
        RadReply.objects.bulk_create(
            [RadReply(username=name, attribute=a, op=":=", value=v) for a, v in replies.items()]
        )
        RadUserGroup.objects.create(username=name, groupname=f"plan-{package.code}", priority=1)


def radius_rows_delete(*, username: str) -> None:
    """Delete the user's rows: FreeRADIUS refuses the next login at once."""
    for table in (RadCheck, RadReply, RadUserGroup):
        table.objects.filter(username=username).delete()


def radius_date(moment) -> str:
    """FreeRADIUS's date, "Mar 15 2025 10:15:47", in English whatever the process locale."""
    return f"{MONTHS[moment.month - 1]} {moment:%d %Y %H:%M:%S}"
