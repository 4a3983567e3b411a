import pytest

from apps.provisioning.models import Router
from tests.support.routers import PASSWORD, USERNAME


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
