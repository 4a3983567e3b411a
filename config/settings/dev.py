"""Local development: `make up`. Safe defaults, never used in production."""

from config.settings.base import *  # noqa: F403
from config.settings.base import DEVELOPMENT_ENCRYPTION_KEY, WEB_HOST, WEB_PORT, env
from config.settings.local_static import *  # noqa: F403

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")

# The Daraja simulator (simulators/daraja.py), which `make up` starts when nothing answers
# at DARAJA_BASE_URL, with these same credentials.
DARAJA_BASE_URL = env("DARAJA_BASE_URL", default="http://127.0.0.1:8100")
DARAJA_CONSUMER_KEY = env("DARAJA_CONSUMER_KEY", default="dev-key")
DARAJA_CONSUMER_SECRET = env("DARAJA_CONSUMER_SECRET", default="dev-secret")
DARAJA_CALLBACK_TOKEN = env("DARAJA_CALLBACK_TOKEN", default="dev-hooks")
DARAJA_CALLBACK_BASE_URL = env("DARAJA_CALLBACK_BASE_URL", default=f"http://{WEB_HOST}:{WEB_PORT}")
# The Stripe simulator (simulators/stripe.py), which `make up` starts when nothing answers at
# STRIPE_API_BASE; it signs its events with this webhook secret.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="http://127.0.0.1:8110")
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="sk_test_dev")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="whsec_dev")
# The Africa's Talking simulator (simulators/africastalking.py), which `make up` starts when
# nothing answers at AFRICASTALKING_BASE_URL; it posts delivery reports to this stack's
# /hooks/sms/<SMS_DELIVERY_TOKEN>/.
AFRICASTALKING_BASE_URL = env("AFRICASTALKING_BASE_URL", default="http://127.0.0.1:8120")
AFRICASTALKING_API_KEY = env("AFRICASTALKING_API_KEY", default="dev-at-key")
AFRICASTALKING_USERNAME = env("AFRICASTALKING_USERNAME", default="sandbox")
SMS_DELIVERY_TOKEN = env("SMS_DELIVERY_TOKEN", default="dev-sms-hooks")
# Development buys from this machine: no per-address limit for it.
PURCHASE_RATE_EXEMPT_IPS = env.list("PURCHASE_RATE_EXEMPT_IPS", default=["127.0.0.1"])

FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[DEVELOPMENT_ENCRYPTION_KEY])
# The RouterOS simulator `make up` starts when this port is free; seed_demo points a demo
# router at it.
ROUTER_SIM_PORT = env.int("ROUTER_SIM_PORT", default=8728)
ROUTER_SIM_USERNAME = env("ROUTER_SIM_USERNAME", default="api")
ROUTER_SIM_PASSWORD = env("ROUTER_SIM_PASSWORD", default="dev-router")

# Alerts to ADMINS are printed to the program's log instead of being mailed.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
ADMINS = ADMINS or [("Operator", "ops@localhost")]  # noqa: F405
