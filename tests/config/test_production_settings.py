"""Production settings: secrets only from the environment, test-only knobs refused at start,
and the web and Celery entry points on production settings unless told otherwise."""

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from config.env import BASE_DIR
from config.settings.base import DEVELOPMENT_ENCRYPTION_KEY

PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.prod",
    "DJANGO_READ_DOT_ENV_FILE": "false",
    "DJANGO_SECRET_KEY": "a-production-secret-key-of-fifty-or-more-characters-0123456789",
    "DJANGO_ALLOWED_HOSTS": "conveyor.example.com",
    "DATABASE_URL": "postgres://conveyor@127.0.0.1:5432/conveyor",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DARAJA_CONSUMER_KEY": "key",
    "DARAJA_CONSUMER_SECRET": "secret",
    "DARAJA_PASSKEY": "passkey",
    "DARAJA_CALLBACK_TOKEN": "token",
    "DARAJA_CALLBACK_BASE_URL": "https://conveyor.example.com",
    "AFRICASTALKING_USERNAME": "conveyor",
    "AFRICASTALKING_API_KEY": "at-key",
    "SMS_DELIVERY_TOKEN": "sms-token",
}
TEST_KNOBS = ("BROKER_VISIBILITY_TIMEOUT", "WORKER_EXTRA_IMPORTS", "TASK_BACKOFF_SCALE")


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION, *TEST_KNOBS}}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _setup(**env: str) -> subprocess.CompletedProcess:
    return _run("import django; django.setup(); print('started')", **env)


def test_production_starts_with_its_environment():
    result = _setup(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


@pytest.mark.parametrize(
    "missing", ["AFRICASTALKING_USERNAME", "AFRICASTALKING_API_KEY", "SMS_DELIVERY_TOKEN"]
)
def test_the_sms_gateway_credentials_are_required_unless_another_backend_is_chosen(missing):
    without = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = _setup(**without)
    assert result.returncode != 0 and missing in result.stderr
    console = _setup(**without, SMS_BACKEND="apps.notifications.sms.ConsoleBackend")
    assert console.returncode == 0, console.stderr


@pytest.mark.parametrize(
    ("knob", "value", "says"),
    [
        ("BROKER_VISIBILITY_TIMEOUT", "8", "below the queue table's 3600 s"),
        ("WORKER_EXTRA_IMPORTS", "tests.support.probes", "is for tests"),
        ("TASK_BACKOFF_SCALE", "0.05", "queue table's backoff"),
    ],
)
def test_production_refuses_a_test_only_knob_with_a_clear_error(knob, value, says):
    result = _setup(**PRODUCTION, **{knob: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert says in result.stderr


def test_production_refuses_the_public_development_key():
    result = _setup(**{**PRODUCTION, "FIELD_ENCRYPTION_KEYS": DEVELOPMENT_ENCRYPTION_KEY})
    assert result.returncode != 0
    assert "development key is public" in result.stderr


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "REDIS_URL", "DARAJA_PASSKEY"])
def test_production_has_no_default_for_a_secret_or_the_broker(missing):
    result = _setup(**{k: v for k, v in PRODUCTION.items() if k != missing})
    assert result.returncode != 0
    assert missing in result.stderr


@pytest.mark.parametrize("module", ["config.wsgi", "config.celery"])
def test_the_web_and_celery_entry_points_default_to_production(module):
    env = {k: v for k, v in PRODUCTION.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = _run(f"import os, {module}; print(os.environ['DJANGO_SETTINGS_MODULE'])", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "config.settings.prod"


def test_deploy_checks_pass_with_production_settings():
    result = _run(
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stdout + result.stderr
