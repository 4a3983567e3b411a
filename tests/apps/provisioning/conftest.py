import os

import pytest

from apps.provisioning.models import Router
from tests.support import radius
from tests.support.factories import RouterFactory


@pytest.fixture
def router(router_sim, db) -> Router:
    router_sim.reset()
    return RouterFactory(name="Main Office Router", port=router_sim.port)


@pytest.fixture(scope="module")
def freeradius(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real FreeRADIUS on the test database, for one test module."""
    missing = radius.installed()
    if missing:
        if os.environ.get("REQUIRE_FREERADIUS"):  # CI installs it: there, missing is a failure
            pytest.fail(f"FreeRADIUS is required here: {missing}")
        pytest.skip(f"FreeRADIUS: {missing}")
    server = radius.FreeRadius(tmp_path_factory.mktemp("freeradius")).start()
    yield server
    server.stop()
