"""Operations: the operations page, /metrics, alerts, Flower."""

from config.env import env

# FLOWER (supervisor's flower program: `manage.py flower`)
# ------------------------------------------------------------------------------
FLOWER_ADDRESS = env("FLOWER_ADDRESS", default="127.0.0.1")
FLOWER_PORT = env.int("FLOWER_PORT", default=5555)
# Flower serves only under this prefix (so a proxy can put it beside the web): its root
# answers 404, its pages are at http://FLOWER_ADDRESS:FLOWER_PORT/flower/.
FLOWER_URL_PREFIX = env("FLOWER_URL_PREFIX", default="flower")
# user:password (several: comma-separated); Flower refuses to start without it.
FLOWER_BASIC_AUTH = env("FLOWER_BASIC_AUTH", default="")
# Where the operations page links to Flower.
FLOWER_URL = env(
    "FLOWER_URL", default=f"http://{FLOWER_ADDRESS}:{FLOWER_PORT}/{FLOWER_URL_PREFIX}/"
)
# /metrics answers a scraper sending "Authorization: Bearer <METRICS_TOKEN>", or staff;
# unset, only staff.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# minutes of per-minute metrics kept in Redis for the metrics screen (1440: 24 hours).
METRICS_MINUTES_KEPT = env.int("METRICS_MINUTES_KEPT", default=1440)
# s a worker's run records (metrics, run log) gather before they are sent together.
METRICS_FLUSH_SECONDS = env.float("METRICS_FLUSH_SECONDS", default=0.05)
# s one live-event stream stays open before the browser reconnects (and catches up).
EVENT_STREAM_SECONDS = env.int("EVENT_STREAM_SECONDS", default=25)
# s between two QueueBusy alerts for the same queue.
ALERT_COOLDOWN = env.int("ALERT_COOLDOWN", default=900)
ADMINS = [tuple(a.split(":", 1)) for a in env.list("ADMINS", default=[])]  # name:email

# MAIL (alerts go to ADMINS through Django's mail)
# ------------------------------------------------------------------------------
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# s for each SMTP operation: a hung server must fail the send, not run into the task's limit.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
SERVER_EMAIL = env("SERVER_EMAIL", default="conveyor@localhost")

# HOUSEKEEPING (tasks.default.prune_history, daily)
HISTORY_KEEP_DAYS = env.int("HISTORY_KEEP_DAYS", default=30)
# days the run log (recent jobs, timelines) keeps in Redis; tasks.default.prune_runs, hourly.
RUN_HISTORY_DAYS = env.float("RUN_HISTORY_DAYS", default=7.0)
# ...and at most this many jobs (the oldest go first at the hourly prune): ~300 MB of Redis.
RUN_HISTORY_MAX_JOBS = env.int("RUN_HISTORY_MAX_JOBS", default=500_000)
EMAIL_SUBJECT_PREFIX = env("EMAIL_SUBJECT_PREFIX", default="[Conveyor] ")
