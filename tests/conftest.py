import os
import uuid

import pytest
import redis
from django.conf import settings

from apps.accounts.services import member_get_or_create_by_phone
from apps.payments.models import Package, Payment
from config import queues
from config.celery import app
from devstack.processes import ServerProcess
from tests.support.factories import MemberFactory, PackageFactory
from tests.support.routers import RouterSim
from tests.support.stripe_sim import StripeSim
from tests.support.workers import ProbeWorker

# Tests using these start real processes (workers, simulators, FreeRADIUS, a live server, the
# whole stack, a browser): marked slow, so `make test-fast` (-m "not slow") leaves them out.
# A test that starts one in its body says so itself with @pytest.mark.slow.
SLOW_FIXTURES = {
    "worker",
    "simulator",
    "router_sim",
    "freeradius",
    "live_server",
    "stack",
    "browser",
}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """A test with the shared worker is torn down once the worker has done what the test left
    it (a receipt, a notice after a fulfilment): the database flush that follows takes every
    table's lock, and a task still writing deadlocks with it or fails into the next test."""
    if worker := getattr(item, "funcargs", {}).get("worker"):
        worker.drain(redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True))
    yield


@pytest.fixture(scope="session")
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)


@pytest.fixture
def key() -> str:
    """A fresh namespace for what a probe task reports."""
    return f"probe:{uuid.uuid4().hex}"


@pytest.fixture
def empty_queues():
    """Every queue of the table empty before and after the test."""
    _purge()
    yield
    _purge()


def _purge() -> None:
    with app.connection_for_write() as conn:
        for name in queues.NAMES:
            conn.default_channel.queue_purge(name)
        # A purged job's unique lock goes with it, or its next enqueue would be dropped.
        client = conn.default_channel.client
        for lock in client.scan_iter(match="lock:unique:*"):
            client.delete(lock)


@pytest.fixture(scope="module")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real prefork worker (one child) consuming every queue, for one test module."""
    process = ProbeWorker(tmp_path_factory.mktemp("worker")).start()
    yield process
    process.stop()


@pytest.fixture
def staff_client(client, db):
    """A test client logged in as a superuser."""
    client.force_login(MemberFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture(scope="module")
def stripe_sim(tmp_path_factory) -> StripeSim:
    """The Stripe simulator over HTTP, with the test settings' key and webhook secret."""
    sim = StripeSim(tmp_path_factory.mktemp("stripe") / "stripe.log").start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    """The Daraja simulator over HTTP, with the test settings' credentials."""
    sim = ServerProcess(
        "simulators.daraja",
        tmp_path_factory.mktemp("sim") / "daraja.log",
        "--key",
        settings.DARAJA_CONSUMER_KEY,
        "--secret",
        settings.DARAJA_CONSUMER_SECRET,
        "--delay",
        "0.2",
        "--seed",
        "7",
    ).start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def router_sim(tmp_path_factory):
    """The RouterOS simulator over TCP, for one test module."""
    sim = RouterSim(tmp_path_factory.mktemp("routeros") / "sim.log").start()
    yield sim
    sim.stop()


@pytest.fixture
def package(db) -> Package:
    return PackageFactory()


@pytest.fixture
def paid(package):
    """A paid payment and its buyer, ready for the hand-off."""

    def make(phone: str = "254712345678") -> tuple[Payment, object]:
        reference = "HS" + uuid.uuid4().hex[:6].upper()
        payment = Payment.objects.create(
            package=package, phone=phone, amount=package.price, reference=reference, status="paid"
        )
        member, _ = member_get_or_create_by_phone(phone=phone)
        return payment, member

    return make
