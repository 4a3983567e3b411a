import random
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.demo import seed as demo
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
        "RouterOS simulator (never changes existing ones). With --members N: a referral "
        "forest of N members, the engagement tasks, today's assignments and completions."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--members", type=int, default=0, help="Demo members to have (0: none)."
        )
        parser.add_argument(
            "--complete",
            type=float,
            default=0.75,
            metavar="SHARE",
            help="Share of the demo members' open assignments to complete today (0 to 1).",
        )
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")

    def handle(self, *args, **options):
        if options["members"] < 0 or not 0 <= options["complete"] <= 1:
            raise CommandError("--members is 0 or more; --complete is between 0 and 1.")
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
        if options["members"]:
            self._engagement(options)

    def _engagement(self, options) -> None:
        rng = random.Random(options["seed"])  # noqa: S311  (reproducible demo data)
        members = demo.members_seed(options["members"], rng)
        tasks = demo.activities_seed()
        assigned, completed = demo.today_assign_and_complete(options["complete"], rng)
        self.stdout.write(
            f"Demo members: {members} created{_password_note()}; "
            f"tasks: {tasks} created; today: {assigned} assignments, {completed} completed."
        )


def _password_note() -> str:
    return f" (password {demo.DEMO_PASSWORD!r})" if settings.DEBUG else " (cannot sign in)"
