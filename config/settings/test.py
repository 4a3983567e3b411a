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
# SMS: written to files by default; the tests that need the gateway set SMS_BACKEND, start
# simulators/africastalking.py and point AFRICASTALKING_BASE_URL at it.
SMS_BACKEND = env("SMS_BACKEND", default="apps.notifications.sms.FileBackend")
SMS_FILE_PATH = env("SMS_FILE_PATH", default=str(VAR_DIR / "test-sms"))
AFRICASTALKING_BASE_URL = env("AFRICASTALKING_BASE_URL", default="http://127.0.0.1:9")
AFRICASTALKING_API_KEY = env("AFRICASTALKING_API_KEY", default="test-at-key")
SMS_DELIVERY_TOKEN = env("SMS_DELIVERY_TOKEN", default="test-sms-hooks")
# No failure alerts unless a test turns them on (the alert test's worker does): an alert is
# written just after its FailedTask, so a test that ends on seeing the FailedTask would leave
# the alert's rows to the next test.
FAILURE_ALERT_QUEUES = env.list("FAILURE_ALERT_QUEUES", default=[])
# No pacing in tests unless a test sets it (the pacing tests do).
SMS_RATE = env("SMS_RATE", default="1000/1")
EMAIL_RATE = env("EMAIL_RATE", default="1000/1")

# Worker subprocesses mail alerts into files the tests read (pytest's own process uses
# Django's in-memory outbox).
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = str(VAR_DIR / "test-mail")
ADMINS = [("Operator", "ops@example.com")]
# Files the tests and their workers make (receipts, reports, imports) stay apart from dev's.
MEDIA_ROOT = env("MEDIA_ROOT", default=str(VAR_DIR / "test-media"))
DOCUMENTS_WORK_DIR = env("DOCUMENTS_WORK_DIR", default=str(VAR_DIR / "test-documents"))
