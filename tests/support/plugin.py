"""Starts the suite's own redis-server before Django reads its settings.

Loaded with ``-p tests.support.plugin`` (pyproject.toml), so REDIS_URL is set before
pytest-django imports config.settings.test; stopped when the session ends.
"""

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    from devstack.processes import LocalRedis

    workdir = Path(tempfile.mkdtemp(prefix="conveyor-test-redis-"))
    server = LocalRedis(workdir).start()
    os.environ["REDIS_URL"] = server.url
    early_config.add_cleanup(lambda: shutil.rmtree(workdir, ignore_errors=True))
    early_config.add_cleanup(server.stop)


def pytest_report_header(config):
    url = os.environ.get("DATABASE_URL")
    if url:
        parts = urlsplit(url)
        database = f"PostgreSQL at {parts.hostname}:{parts.port or 5432}{parts.path} (DATABASE_URL)"
    else:
        database = "SQLite (DATABASE_URL is unset)"
    return [f"database: {database}", f"redis: {os.environ['REDIS_URL']} (the suite's own)"]
