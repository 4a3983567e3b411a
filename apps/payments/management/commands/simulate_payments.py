import json
import os
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from django.conf import settings
from django.core.management.base import CommandError

from apps.common.stats import percentile
from apps.ops.management.output import OpsCommand, non_negative
from apps.payments import selectors
from apps.payments.models import Payment

OPEN = (Payment.Status.PENDING, Payment.Status.PAID)
COLUMNS = [("measure", "MEASURE"), ("value", "VALUE")]


class Command(OpsCommand):
    help = (
        "Buy packages through /api/purchases/ against the running stack at a steady rate, wait "
        "for them to settle, and print how they ended and how long purchase-to-FULFILLED took. "
        "Outcomes and timings are read from the stack's database (DATABASE_URL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=50, help="Purchases (default 50).")
        parser.add_argument(
            "--rate", type=non_negative, default=10.0, help="Purchases per second (default 10)."
        )
        parser.add_argument(
            "--fail-ratio",
            type=non_negative,
            metavar="F",
            help="Set the Daraja simulator to fail this share of payments "
            "(1037, 1032 and 1, mixed); needs the simulator.",
        )
        parser.add_argument(
            "--base-url", default=None, help="The web tier (default http://127.0.0.1:$WEB_PORT)."
        )
        parser.add_argument("--package", help="Package code (default: the cheapest on sale).")
        parser.add_argument(
            "--timeout",
            type=non_negative,
            default=120.0,
            help="Seconds to wait for the last payment to settle (default 120).",
        )
        super().add_arguments(parser)

    def handle(self, *args, **options):
        if options["count"] < 1 or options["rate"] <= 0:
            raise CommandError("--count and --rate must be positive.")
        base = options["base_url"] or f"http://127.0.0.1:{os.environ.get('WEB_PORT', '8000')}"
        package = options["package"] or _cheapest()
        if options["fail_ratio"] is not None:
            _set_failures(options["fail_ratio"])

        accepted, refused, latencies = _buy(base, package, options["count"], options["rate"])
        started = time.monotonic()
        while time.monotonic() - started < options["timeout"]:
            counts = selectors.payment_status_counts(ids=accepted)
            if not any(counts[status] for status in OPEN):
                break
            time.sleep(0.5)
        self.emit(options, _report(accepted, refused, latencies), COLUMNS, empty="")


def _cheapest() -> str:
    package = selectors.package_get_cheapest_on_sale()
    if package is None:
        raise CommandError("No package on sale: run `manage.py seed_demo` or add one in admin.")
    return package.code


def _set_failures(ratio: float) -> None:
    if ratio > 1:
        raise CommandError("--fail-ratio is a share between 0 and 1.")
    fail = {"1037": ratio * 50, "1032": ratio * 30, "1": ratio * 20}
    outcomes = {"0": (1 - ratio) * 100, **fail}
    url = f"{settings.DARAJA_BASE_URL.rstrip('/')}/simulator/config"
    try:
        response = requests.post(url, json={"outcomes": outcomes}, timeout=5)
    except requests.RequestException as exc:
        raise CommandError(f"--fail-ratio needs the Daraja simulator at {url}: {exc}") from exc
    if response.status_code != 200:
        raise CommandError(
            f"--fail-ratio needs the Daraja simulator; {url} said {response.status_code}."
        )


def _buy(base: str, package: str, count: int, rate: float):
    accepted, refused, latencies = [], [], []
    lock = threading.Lock()
    session = requests.Session()
    start = time.monotonic()

    def one(i: int) -> None:
        time.sleep(max(0.0, start + i / rate - time.monotonic()))  # the steady schedule
        phone = f"2547{secrets.randbelow(10**8):08d}"
        sent = time.perf_counter()
        try:
            response = session.post(
                f"{base}/api/purchases/", json={"phone": phone, "package": package}, timeout=30
            )
        except requests.RequestException as exc:
            with lock:
                refused.append(type(exc).__name__)
            return
        with lock:
            latencies.append((time.perf_counter() - sent) * 1000)
            if response.status_code == 202:
                accepted.append(response.json()["payment_id"])
            else:
                refused.append(str(response.status_code))

    with ThreadPoolExecutor(max(8, int(rate // 5) + 1)) as pool:
        list(pool.map(one, range(count)))
    return accepted, refused, latencies


def _report(accepted: list[str], refused: list[str], latencies: list[float]) -> list[dict]:
    by_status = selectors.payment_status_counts(ids=accepted)
    fulfilment = sorted(s * 1000 for s in selectors.payment_fulfilment_seconds(ids=accepted))
    return [
        {"measure": "purchases accepted (202)", "value": len(accepted)},
        {"measure": "purchases refused", "value": json.dumps(_tally(refused)) if refused else 0},
        {"measure": "fulfilled (paid and handed off)", "value": by_status["fulfilled"]},
        {"measure": "failed", "value": by_status["failed"]},
        {"measure": "cancelled", "value": by_status["cancelled"]},
        {
            "measure": "stuck (pending or paid at the end)",
            "value": by_status["pending"] + by_status["paid"],
        },
        {"measure": "purchase accept latency p50 / p99 (ms)", "value": _pair(sorted(latencies))},
        {
            "measure": "purchase-to-FULFILLED p50 / p95 / p99 (ms)",
            "value": " / ".join(f"{percentile(fulfilment, q):.0f}" for q in (50, 95, 99))
            if fulfilment
            else "-",
        },
    ]


def _tally(items: list[str]) -> dict:
    return {item: items.count(item) for item in sorted(set(items))}


def _pair(values: list[float]) -> str:
    return f"{percentile(values, 50):.1f} / {percentile(values, 99):.1f}" if values else "-"
