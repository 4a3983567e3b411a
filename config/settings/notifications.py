"""Notifications: SMS (Africa's Talking), mail and in-app notices, their pacing and alerts."""

from config.env import env

# SMS
# ------------------------------------------------------------------------------
# A backend is a class with send(); like EMAIL_BACKEND: console (print), file (one JSON line
# per message under SMS_FILE_PATH), or Africa's Talking over its HTTP API.
SMS_BACKEND = env("SMS_BACKEND", default="apps.notifications.sms.AfricasTalkingBackend")
SMS_FILE_PATH = env("SMS_FILE_PATH", default="")
AFRICASTALKING_BASE_URL = env("AFRICASTALKING_BASE_URL", default="https://api.africastalking.com")
AFRICASTALKING_USERNAME = env("AFRICASTALKING_USERNAME", default="sandbox")
AFRICASTALKING_API_KEY = env("AFRICASTALKING_API_KEY", default="")
# The approved sender id or short code ("from"); empty: the account's default.
SMS_SENDER_ID = env("SMS_SENDER_ID", default="")
# s to connect (nothing sent if it fails: retried) and to read the answer (the gateway may
# have taken the message: not sent again, see README "Never sent twice").
SMS_CONNECT_TIMEOUT = env.float("SMS_CONNECT_TIMEOUT", default=3.05)
SMS_READ_TIMEOUT = env.float("SMS_READ_TIMEOUT", default=10.0)
# Delivery reports are POSTed to /hooks/sms/<SMS_DELIVERY_TOKEN>/ (set that URL in the
# Africa's Talking dashboard); empty: the hook refuses every report (403). Optional
# source allowlist.
SMS_DELIVERY_TOKEN = env("SMS_DELIVERY_TOKEN", default="")
SMS_DELIVERY_ALLOWED_IPS = env.list("SMS_DELIVERY_ALLOWED_IPS", default=[])

# PACING: COUNT/SECONDS per provider and sender id, shared by every worker (a token bucket in
# Redis); BURST is how many may go at once after a quiet spell.
SMS_RATE = env("SMS_RATE", default="10/1")
SMS_BURST = env.int("SMS_BURST", default=1)
EMAIL_RATE = env("EMAIL_RATE", default="10/1")
EMAIL_BURST = env.int("EMAIL_BURST", default=1)

# ALERTS: staff are mailed when a task of these queues fails for good, at most once per task
# name per cool-down (s).
FAILURE_ALERT_QUEUES = env.list("FAILURE_ALERT_QUEUES", default=["payments", "provisioning"])
FAILURE_ALERT_COOLDOWN = env.int("FAILURE_ALERT_COOLDOWN", default=900)
# s a notice may wait PENDING (or SENDING) before the reconciler sends it again (or settles it
# as UNKNOWN): beyond the longest retry wait (emails: 600 s + jitter), so a retry is not doubled.
NOTIFY_NUDGE_AFTER = env.int("NOTIFY_NUDGE_AFTER", default=900)
# Members' notices are written in chunks of this many (the rate-change fan-out, digests).
NOTIFY_CHUNK = env.int("NOTIFY_CHUNK", default=2000)
# The most SMS parts a staff message to a segment may take (each part is billed): 3 is 459
# GSM characters, or 201 with an emoji or a curly quote (apps/notifications/texts.py).
STAFF_SMS_MAX_PARTS = env.int("STAFF_SMS_MAX_PARTS", default=3)

# MAIL: notices go out through Django's EMAIL_BACKEND (config/settings/ops.py), from this.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="conveyor@localhost")
# Where links in notices point (the operations page in staff alerts).
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# Named in customers' SMS ("<OPERATOR_NAME> WiFi: ...").
OPERATOR_NAME = env("OPERATOR_NAME", default="Conveyor")
