import pytest

from apps.provisioning.models import Router
from tests.support.factories import RouterFactory


@pytest.fixture
def router(router_sim, db) -> Router:
    router_sim.reset()
    return RouterFactory(name="Main Office Router", port=router_sim.port)
