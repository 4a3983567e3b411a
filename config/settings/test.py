"""The test suite: tests/services.py has set REDIS_URL to the suite's own redis-server."""

import os

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    CELERY_TASK_ROUTES,
    DATABASES,
    DEVELOPMENT_ENCRYPTION_KEY,
    VAR_DIR,
    env,
)
from config.settings.local_static import *  # noqa: F403

SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-only-insecure-key")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Worker subprocesses share the test database, so SQLite must be a file, not memory.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

# The probe tasks the tests send through real workers; they follow the payments policy.
CELERY_TASK_ROUTES = {**CELERY_TASK_ROUTES, "tests.support.probes.*": {"queue": "payments"}}

# Daraja: the tests that need it start simulators/daraja.py and pass its address to the
# workers through DARAJA_BASE_URL; the credentials below are the simulator's too.
DARAJA_BASE_URL = env("DARAJA_BASE_URL", default="http://127.0.0.1:9")
DARAJA_CONSUMER_KEY = env("DARAJA_CONSUMER_KEY", default="test-key")
DARAJA_CONSUMER_SECRET = env("DARAJA_CONSUMER_SECRET", default="test-secret")
DARAJA_CALLBACK_TOKEN = env("DARAJA_CALLBACK_TOKEN", default="test-hooks")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="whsec_test_conveyor")
# Stripe: the tests that need it start simulators/stripe.py and point STRIPE_API_BASE at it.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_conveyor")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="http://127.0.0.1:9")
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[DEVELOPMENT_ENCRYPTION_KEY])

# Worker subprocesses mail alerts into files the tests read (pytest's own process uses
# Django's in-memory outbox).
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(VAR_DIR / "test-mail")
ADMINS = [("Operator", "ops@example.com")]
