from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.payments.services import package_seed
from apps.provisioning.services import router_seed

DEMO_PACKAGES = [
    {
        "code": "1h",
        "name": "Normal 1 Hour",
        "price": Decimal("10"),
        "duration": timedelta(hours=1),
        "rate_limit": "2M/2M",
        "sort_order": 1,
    },
    {
        "code": "1d",
        "name": "Daily 24 Hours",
        "price": Decimal("50"),
        "duration": timedelta(days=1),
        "rate_limit": "3M/3M",
        "sort_order": 2,
    },
    {
        "code": "7d",
        "name": "Weekly",
        "price": Decimal("250"),
        "duration": timedelta(days=7),
        "rate_limit": "5M/5M",
        "data_cap_bytes": 20 * 1024**3,
        "sort_order": 3,
    },
    {
        "code": "30d",
        "name": "Monthly",
        "price": Decimal("800"),
        "duration": timedelta(days=30),
        "rate_limit": "5M/5M",
        "sort_order": 4,
    },
]


class Command(BaseCommand):
    help = (
        "Create the demo packages that are missing, and in development a demo router for the "
        "RouterOS simulator (never changes existing ones)."
    )

    def handle(self, *args, **options):
        created = package_seed(packages=DEMO_PACKAGES)
        self.stdout.write(
            f"Demo packages: {len(created)} created, "
            f"{len(DEMO_PACKAGES) - len(created)} already there."
        )
        port = getattr(settings, "ROUTER_SIM_PORT", None)
        if port and router_seed(
            name="Demo router (simulator)",
            host="127.0.0.1",
            port=port,
            username=settings.ROUTER_SIM_USERNAME,
            password=settings.ROUTER_SIM_PASSWORD,
        ):
            self.stdout.write(f"Demo router: created, at 127.0.0.1:{port}.")
