"""Payments: Daraja (M-Pesa), Stripe, purchase limits and the reconciler's clock."""

from config.env import env

# DARAJA (M-Pesa)
# ------------------------------------------------------------------------------
# https://developer.safaricom.co.ke/ ; the defaults are Safaricom's public sandbox values.
DARAJA_BASE_URL = env("DARAJA_BASE_URL", default="https://sandbox.safaricom.co.ke")
DARAJA_CONSUMER_KEY = env("DARAJA_CONSUMER_KEY", default="")
DARAJA_CONSUMER_SECRET = env("DARAJA_CONSUMER_SECRET", default="")
DARAJA_SHORTCODE = env("DARAJA_SHORTCODE", default="174379")
DARAJA_PASSKEY = env(
    "DARAJA_PASSKEY", default="bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
)
# CustomerPayBillOnline (paybill) or CustomerBuyGoodsOnline (till).
DARAJA_TRANSACTION_TYPE = env("DARAJA_TRANSACTION_TYPE", default="CustomerPayBillOnline")
# Where Daraja reaches our hooks; Daraja refuses URLs containing mpesa, safaricom, exe,
# cmd, sql or query, which ours never do.
DARAJA_CALLBACK_BASE_URL = env("DARAJA_CALLBACK_BASE_URL", default="http://127.0.0.1:8000")
# The secret path segment of every Daraja hook: /hooks/stk/<token>/.
DARAJA_CALLBACK_TOKEN = env("DARAJA_CALLBACK_TOKEN", default="")
# Source addresses allowed to call the hooks; empty: not enforced.
DARAJA_ALLOWED_IPS = env.list("DARAJA_ALLOWED_IPS", default=[])
DARAJA_TIMEOUT = env.float("DARAJA_TIMEOUT", default=10.0)

# STRIPE
# ------------------------------------------------------------------------------
# The secret key (sk_...) that creates Checkout Sessions; unset: method=stripe is refused.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
# Where stripe-python sends API calls: Stripe itself, or simulators/stripe.py in development.
STRIPE_API_BASE = env("STRIPE_API_BASE", default="https://api.stripe.com")
# The session is created while the buyer waits: a bounded wait, one retry (same idempotency key).
STRIPE_TIMEOUT = env.float("STRIPE_TIMEOUT", default=8.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=1)
# Where Checkout sends the buyer's browser afterwards (the captive portal's pages); Stripe
# replaces {CHECKOUT_SESSION_ID}.
STRIPE_SUCCESS_URL = env(
    "STRIPE_SUCCESS_URL", default="http://127.0.0.1:8000/?checkout={CHECKOUT_SESSION_ID}"
)
STRIPE_CANCEL_URL = env("STRIPE_CANCEL_URL", default="http://127.0.0.1:8000/?checkout=cancelled")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_TOLERANCE = 300  # seconds a signature stays valid (the library's default)

# PURCHASES
# ------------------------------------------------------------------------------
# COUNT/SECONDS: purchases per phone number and per client address; 429 beyond.
PURCHASE_RATE_PER_PHONE = env("PURCHASE_RATE_PER_PHONE", default="3/300")
PURCHASE_RATE_PER_IP = env("PURCHASE_RATE_PER_IP", default="60/60")
# Addresses not limited per address (a captive portal server buying for many users).
PURCHASE_RATE_EXEMPT_IPS = env.list("PURCHASE_RATE_EXEMPT_IPS", default=[])
# Proxies whose X-Forwarded-For is believed when finding the client's address.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
# Largest body a hook or the API reads.
REQUEST_MAX_BYTES = 16 * 1024

# RECONCILIATION (payments.reconcile_payments, every minute)
# ------------------------------------------------------------------------------
RECONCILE_QUERY_AFTER = env.int("RECONCILE_QUERY_AFTER", default=90)  # s without a callback
RECONCILE_NUDGE_AFTER = env.int("RECONCILE_NUDGE_AFTER", default=60)  # s stuck paid
# s before a payment with no saved push is pushed again: longer than an STK prompt lives, so
# the callback of a push whose worker died before saving it arrives first (and is adopted
# through the reference in its path) instead of the buyer getting a second prompt.
RECONCILE_PUSH_AFTER = env.int("RECONCILE_PUSH_AFTER", default=150)
RECONCILE_MAX_NUDGES = env.int("RECONCILE_MAX_NUDGES", default=5)
RECONCILE_BATCH = env.int("RECONCILE_BATCH", default=500)
# A payment with no final word from Daraja after this long is failed as expired.
PAYMENT_EXPIRE_AFTER = env.int("PAYMENT_EXPIRE_AFTER", default=30 * 60)
