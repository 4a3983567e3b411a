"""docker-compose.yml and systemd/ against the queue table: one pool per queue, its size,
its stop grace above the hard limit; one beat; Redis persistent and never evicting."""

import os
import re
import shutil
import subprocess

import pytest
import yaml

from config import queues
from config.env import BASE_DIR

# Placeholders for the secrets compose requires, only so that it resolves the file.
SECRETS = {
    name: "x"
    for name in [
        "POSTGRES_PASSWORD",
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "FIELD_ENCRYPTION_KEYS",
        "DARAJA_BASE_URL",
        "DARAJA_SHORTCODE",
        "DARAJA_CONSUMER_KEY",
        "DARAJA_CONSUMER_SECRET",
        "DARAJA_PASSKEY",
        "DARAJA_CALLBACK_TOKEN",
        "DARAJA_CALLBACK_BASE_URL",
    ]
}
SECRETS["FLOWER_BASIC_AUTH"] = "ops:x"
LONGEST = max(q.hard_limit for q in queues.QUEUES)


@pytest.fixture(scope="module")
def compose() -> dict:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("REQUIRE_COMPOSE"):  # CI installs it: there, missing is a failure
            pytest.fail("docker-compose is required here (apt-get install docker-compose)")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    result = subprocess.run(
        [binary, "config"], cwd=BASE_DIR, env={**env, **SECRETS}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_refuses_to_run_without_its_secrets():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed")
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    result = subprocess.run([binary, "config", "-q"], cwd=BASE_DIR, env=env, capture_output=True)
    assert result.returncode != 0 and b"POSTGRES_PASSWORD" in result.stderr


def test_compose_runs_one_pool_per_queue_of_the_table(compose):
    services = compose["services"]
    pools = {n for n in services if n.startswith("worker-")}
    assert pools == {f"worker-{q}" for q in queues.NAMES}
    for policy in queues.QUEUES:
        service = services[f"worker-{policy.name}"]
        argv = service["command"]
        assert argv[argv.index("-Q") + 1] == policy.name
        assert argv[argv.index("--concurrency") + 1] == str(policy.pool)
        assert argv[argv.index("--prefetch-multiplier") + 1] == "1"
        assert "--max-tasks-per-child" in argv and "--max-memory-per-child" in argv
        grace = int(re.fullmatch(r"(\d+)s", service["stop_grace_period"]).group(1))
        assert grace > policy.hard_limit
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "healthcheck" in service


def test_compose_has_the_rest_and_a_redis_that_keeps_messages(compose):
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "beat", "flower"} <= set(services)
    redis = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis and "--maxmemory-policy noeviction" in redis
    volumes = [str(v).split(":")[:2] for v in services["redis"]["volumes"]]
    assert volumes == [["redis-data", "/data"]]  # a named volume: the AOF outlives the container
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    for name in ("postgres", "redis", "web"):
        assert "healthcheck" in services[name], name
    for name, service in services.items():
        if name not in ("postgres", "redis"):
            assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0", name


def test_systemd_has_a_worker_template_and_the_tables_pool_sizes():
    unit = (BASE_DIR / "systemd" / "conveyor-worker@.service").read_text()
    assert "-Q %i" in unit and "--concurrency=${CONCURRENCY}" in unit
    assert "KillMode=mixed" in unit and "KillSignal=SIGTERM" in unit
    assert int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M).group(1)) > LONGEST
    target = (BASE_DIR / "systemd" / "conveyor.target").read_text()
    for policy in queues.QUEUES:
        env = (BASE_DIR / "systemd" / f"worker-{policy.name}.env").read_text()
        assert re.search(rf"^CONCURRENCY={policy.pool}$", env, re.M), policy.name
        assert f"conveyor-worker@{policy.name}.service" in target
    for program in ("web", "beat", "flower"):
        assert (BASE_DIR / "systemd" / f"conveyor-{program}.service").exists()
