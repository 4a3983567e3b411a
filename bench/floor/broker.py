"""What the floor's processes and its runner agree on: the queue names, and the Redis
transport options (the product's, config/settings/celery.py), which also decide where
worker control messages travel."""

PAYMENTS = "floor-payments"
PROVISIONING = "floor-provisioning"
NOTIFICATIONS = "floor-notifications"

TRANSPORT_OPTIONS = {
    # The product's queue table value (config/queues.py VISIBILITY_TIMEOUT); not imported,
    # since importing the config package would load the product's Celery app here too.
    "visibility_timeout": 3600,
    "socket_connect_timeout": 5,
    "fanout_prefix": True,
    "fanout_patterns": True,
}
