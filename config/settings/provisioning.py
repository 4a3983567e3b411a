"""Provisioning: routers (RouterOS API), FreeRADIUS rows, secrets at rest."""

from config.env import env

# Fernet keys for secrets at rest (router passwords, hotspot credentials): the first key
# encrypts, every key decrypts, so a new key goes first and old ones stay until rotated out.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# ROUTERS
# ------------------------------------------------------------------------------
ROUTER_TIMEOUT = env.float("ROUTER_TIMEOUT", default=10.0)  # s, connect and each reply
# TLS to api-ssl: a CA file to verify routers' certificates against; none verifies nothing
# (RouterOS certificates are mostly self-signed), which still encrypts the password.
ROUTER_TLS_CA_FILE = env("ROUTER_TLS_CA_FILE", default="")
# Hotspot user profiles we create on routers are named <prefix><package code>.
ROUTER_PROFILE_PREFIX = env("ROUTER_PROFILE_PREFIX", default="conveyor-")

# FREERADIUS
# ------------------------------------------------------------------------------
# The time zone FreeRADIUS reads `Expiration` in: its server's local time zone.
RADIUS_TIME_ZONE = env("RADIUS_TIME_ZONE", default="Africa/Nairobi")
RADIUS_SIMULTANEOUS_USE = env.int("RADIUS_SIMULTANEOUS_USE", default=1)

# RECONCILIATION (provisioning.reconcile_subscriptions, every minute)
# ------------------------------------------------------------------------------
# s a subscription may stay PENDING before its router job is sent again; longer than the
# provisioning queue's whole retry schedule (5 + 15 + 30 + 60 s) so a retrying job is
# not doubled.
PROVISION_NUDGE_AFTER = env.int("PROVISION_NUDGE_AFTER", default=180)

# SWEEPS (provisioning.reconcile_subscriptions and expire_subscriptions)
# ------------------------------------------------------------------------------
# Subscriptions one run of either sweep takes at most; the next run takes the rest. Read
# from EXPIRE_BATCH, its old name, where that is still set.
PROVISIONING_SWEEP_BATCH = env.int(
    "PROVISIONING_SWEEP_BATCH", default=env.int("EXPIRE_BATCH", default=500)
)
