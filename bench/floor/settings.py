"""Settings of the floor: the least Django needs to serve three views, and the Celery settings
of the product that change what goes over the wire or how it is delivered
(config/settings/celery.py). Everything else is left at Django's and Celery's defaults."""

import environ
from kombu import Exchange, Queue

from bench.floor import broker

env = environ.Env()

SECRET_KEY = "floor-benchmark-only"  # noqa: S105 - it signs nothing: no sessions, no CSRF
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["bench.floor"]
MIDDLEWARE = []
ROOT_URLCONF = "bench.floor.urls"
WSGI_APPLICATION = "bench.floor.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The product's connection settings (config/settings/base.py): persistent connections,
# checked before reuse.
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}

# The services the tasks talk to; the defaults are `make up`'s simulators.
DARAJA_BASE_URL = env("DARAJA_BASE_URL", default="http://127.0.0.1:8100")
DARAJA_CONSUMER_KEY = "dev-key"
DARAJA_CONSUMER_SECRET = "dev-secret"  # noqa: S105 - the simulator's development pair
DARAJA_SHORTCODE = "174379"
DARAJA_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
FLOOR_CALLBACK_BASE = env("FLOOR_CALLBACK_BASE", default="http://127.0.0.1:8000")
ROUTER_HOST = env("ROUTER_HOST", default="127.0.0.1")
ROUTER_PORT = env.int("ROUTER_PORT", default=8728)
ROUTER_USERNAME = env("ROUTER_USERNAME", default="api")
ROUTER_PASSWORD = env("ROUTER_PASSWORD", default="dev-router")
AFRICASTALKING_BASE_URL = env("AFRICASTALKING_BASE_URL", default="http://127.0.0.1:8120")
AFRICASTALKING_API_KEY = env("AFRICASTALKING_API_KEY", default="dev-at-key")
AFRICASTALKING_USERNAME = env("AFRICASTALKING_USERNAME", default="sandbox")
SERVICE_TIMEOUT = 10.0  # s, as DARAJA_TIMEOUT, ROUTER_TIMEOUT and SMS_READ_TIMEOUT in the product

# CELERY: the product's wire and delivery settings, read by bench/floor/celery.py.
CELERY_BROKER_URL = env("REDIS_URL")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = broker.TRANSPORT_OPTIONS
CELERY_TASK_IGNORE_RESULT = True  # and no result backend at all
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_EVENT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_RETRY_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name)
    for name in (broker.PAYMENTS, broker.PROVISIONING, broker.NOTIFICATIONS)
)
CELERY_TASK_ROUTES = {
    "bench.floor.tasks.push": {"queue": broker.PAYMENTS},
    "bench.floor.tasks.fulfil": {"queue": broker.PAYMENTS},
    "bench.floor.tasks.provision": {"queue": broker.PROVISIONING},
    "bench.floor.tasks.sms": {"queue": broker.NOTIFICATIONS},
}
CELERY_TASK_DEFAULT_QUEUE = broker.PAYMENTS
CELERY_TASK_CREATE_MISSING_QUEUES = False
# Celery's Django fixup closes the database connection before and after every task unless
# this is set (then every this many tasks: never, here); bench/floor/celery.py applies
# CONN_MAX_AGE instead, as for a request. The product does the same (config/celery.py).
CELERY_DB_REUSE_MAX = 10**9
