"""Money: engagement rewards, wallets, commissions and the sweeps that move them."""

from config.env import env

# An earning stays PENDING this long after it is credited, then maturation makes it
# withdrawable (the seed's 72 hours).
MATURATION_HOURS = env.int("MATURATION_HOURS", default=72)

# SWEEPS (commissions.disburse_commissions, maturation.mature_balances: hourly)
# ------------------------------------------------------------------------------
# Rows per chunk: one SQL statement and one transaction each. Bigger chunks go faster
# and hold their row and wallet locks longer.
SWEEP_CHUNK_ROWS = env.int("SWEEP_CHUNK_ROWS", default=50_000)
# A long job (sweep, daily assignment) works this share of its queue's soft time limit,
# then hands the rest to a new task: 0.5 of 240 s for the sweeps.
TASK_BUDGET_SHARE = env.float("TASK_BUDGET_SHARE", default=0.5)

# ENGAGEMENT (default.assign_daily_activities: daily at 00:05)
# ------------------------------------------------------------------------------
ASSIGN_CHUNK_MEMBERS = env.int("ASSIGN_CHUNK_MEMBERS", default=20_000)
# Demo members `make up` seeds in development (seed_demo --members); 0 for none.
DEMO_MEMBERS = env.int("DEMO_MEMBERS", default=200)

# MEMBERS' API (bearer tokens from POST /api/auth/token/)
# ------------------------------------------------------------------------------
API_TOKEN_MAX_AGE = env.int("API_TOKEN_MAX_AGE", default=7 * 24 * 3600)  # s
SIGN_IN_RATE_PER_PHONE = env("SIGN_IN_RATE_PER_PHONE", default="5/300")
SIGN_IN_RATE_PER_IP = env("SIGN_IN_RATE_PER_IP", default="30/60")
