"""The floor's router client: one RouterOS API connection per call, as the product opens one
per task (apps/provisioning/routeros.py)."""

from django.conf import settings
from librouteros import connect


def hotspot_user_add(*, name: str, password: str, profile: str, limit_uptime: str) -> None:
    api = connect(
        host=settings.ROUTER_HOST,
        port=settings.ROUTER_PORT,
        username=settings.ROUTER_USERNAME,
        password=settings.ROUTER_PASSWORD,
        timeout=settings.SERVICE_TIMEOUT,
        encoding="utf-8",
    )
    try:
        api.path("ip", "hotspot", "user").add(
            name=name, password=password, profile=profile, **{"limit-uptime": limit_uptime}
        )
    finally:
        api.close()
