import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.accounts.services import member_get_or_create_by_phone
from apps.payments.models import Package, Payment
from apps.provisioning.models import Router
from tests.routers import PASSWORD, USERNAME, RouterSim


@pytest.fixture(scope="module")
def router_sim(tmp_path_factory):
    sim = RouterSim(tmp_path_factory.mktemp("routeros") / "sim.log").start()
    yield sim
    sim.stop()


@pytest.fixture
def router(router_sim, db) -> Router:
    router_sim.reset()
    return Router.objects.create(
        name="Main Office Router",
        host="127.0.0.1",
        port=router_sim.port,
        username=USERNAME,
        password=PASSWORD,
    )


@pytest.fixture
def package(db) -> Package:
    return Package.objects.create(
        code="1h",
        name="Normal 1 Hour",
        price=Decimal("50"),
        duration=timedelta(hours=1),
        rate_limit="2M/2M",
        data_cap_bytes=5 * 2**30,
    )


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
