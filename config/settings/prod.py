"""Production: PostgreSQL, persistent Redis, secrets from the environment only."""

from django.core.exceptions import ImproperlyConfigured

from config import queues
from config.settings.base import *  # noqa: F403
from config.settings.base import (
    CELERY_BROKER_TRANSPORT_OPTIONS,
    DATABASES,
    DEVELOPMENT_ENCRYPTION_KEY,
    SMS_BACKEND,
    TASK_BACKOFF_SCALE,
    WORKER_EXTRA_IMPORTS,
    env,
)

# No defaults: a missing secret or broker must stop the process at start.
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CELERY_BROKER_URL = CELERY_RESULT_BACKEND = REDIS_URL = env("REDIS_URL")
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
if not FIELD_ENCRYPTION_KEYS or DEVELOPMENT_ENCRYPTION_KEY in FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS must hold at least one Fernet key of this deployment's own "
        "(the development key is public)."
    )
DARAJA_CONSUMER_KEY = env("DARAJA_CONSUMER_KEY")
DARAJA_CONSUMER_SECRET = env("DARAJA_CONSUMER_SECRET")
DARAJA_PASSKEY = env("DARAJA_PASSKEY")
DARAJA_CALLBACK_TOKEN = env("DARAJA_CALLBACK_TOKEN")
DARAJA_CALLBACK_BASE_URL = env("DARAJA_CALLBACK_BASE_URL")
if SMS_BACKEND == "apps.notifications.sms.AfricasTalkingBackend":
    AFRICASTALKING_USERNAME = env("AFRICASTALKING_USERNAME")
    AFRICASTALKING_API_KEY = env("AFRICASTALKING_API_KEY")
    SMS_DELIVERY_TOKEN = env("SMS_DELIVERY_TOKEN")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    raise ImproperlyConfigured(
        "Production needs DATABASE_URL (PostgreSQL); SQLite is for development."
    )

# Test-only knobs, each a clear error here rather than a quiet risk in production.
if CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] < queues.VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        f"BROKER_VISIBILITY_TIMEOUT={CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout']} is "
        f"below the queue table's {queues.VISIBILITY_TIMEOUT} s: a task still running, or "
        "waiting for its retry, past it would be delivered twice. Unset it."
    )
if WORKER_EXTRA_IMPORTS:
    raise ImproperlyConfigured(
        f"WORKER_EXTRA_IMPORTS={','.join(WORKER_EXTRA_IMPORTS)} is for tests; unset it."
    )
if TASK_BACKOFF_SCALE != 1:
    raise ImproperlyConfigured(
        f"TASK_BACKOFF_SCALE={TASK_BACKOFF_SCALE}: production retries on the queue table's "
        "backoff; unset it."
    )

# SECURITY
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
