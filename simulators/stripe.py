"""A stand-in for Stripe's API and webhooks, for development, demos and tests.

It answers the part of Stripe's API that Conveyor uses the way stripe-python expects:
form-encoded POSTs with a Bearer secret key, JSON answers in Stripe's object shapes, errors
in Stripe's error shape ({"error": {"type", "message", "code", "param"}}), Idempotency-Key
replays. Endpoints: POST /v1/checkout/sessions, GET /v1/checkout/sessions/<id>, POST
/v1/checkout/sessions/<id>/expire, POST /v1/refunds (payment_intent or charge, optional
amount). Every event is POSTed to the webhook URL signed as Stripe signs it
(Stripe-Signature: t=<unix>,v1=HMAC-SHA256(secret, "<t>.<body>")), again on a non-2xx.

A buyer "pays" a session in a browser at its url (GET /c/pay/<id>, a one-button page) or
with POST /simulator/sessions/<id>/pay: the session completes with a new PaymentIntent and
charge, and payment_intent.succeeded and checkout.session.completed are delivered. A refund
delivers charge.refunded. Knobs (POST /simulator/config, JSON): webhook_url,
webhook_secret, delivery_delay (s before each delivery), duplicate_deliveries (extra copies
of every event), retries and retry_delay (redeliveries after a failed delivery), paid_events
(what a payment sends, in order), error_rate (share of API calls answered 500), slow (s
before each API answer). GET /simulator/state shows knobs, counts, sessions, the API
requests received and the deliveries; POST /simulator/reset forgets them.

    python -m simulators.stripe --port 8110 --webhook-url http://127.0.0.1:8000/hooks/stripe/

The keys default to STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET from the environment, so a
stack and its simulator agree without configuration.
"""

import base64
import contextlib
import hashlib
import hmac
import html
import json
import logging
import os
import random
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from simulators.cli import server_parser

log = logging.getLogger("simulators.stripe")

API_VERSION = "2025-03-31.basil"
# Presentment currencies this stand-in takes (Stripe takes some 135; two-decimal ones here).
CURRENCIES = {"kes", "usd", "eur", "gbp", "ugx", "tzs", "zar", "ngn"}
SESSION_LIFETIME = (30 * 60, 24 * 60 * 60)  # Stripe's bounds for expires_at
KNOBS = {  # name: (type, default)
    "webhook_url": (str, "http://127.0.0.1:8000/hooks/stripe/"),
    "webhook_secret": (str, "whsec_dev"),
    "delivery_delay": (float, 0.0),
    "duplicate_deliveries": (int, 0),
    "retries": (int, 2),
    "retry_delay": (float, 0.5),
    "paid_events": (list, ["payment_intent.succeeded", "checkout.session.completed"]),
    "error_rate": (float, 0.0),
    "slow": (float, 0.0),
}


class StripeError(Exception):
    """An answer in Stripe's error shape."""

    def __init__(self, status: int, message: str, *, kind="invalid_request_error", **extra):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"type": kind, "message": message, **extra}}


def _id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


class Simulator:
    """Stripe's state: sessions, intents, charges, idempotency keys, knobs, deliveries."""

    def __init__(self, secret_key: str, seed: int | None):
        self.secret_key = secret_key
        self.knobs = {name: default for name, (_, default) in KNOBS.items()}
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.sessions: dict[str, dict] = {}
            self.intents: dict[str, dict] = {}
            self.charges: dict[str, dict] = {}
            self.idempotent: dict[str, tuple] = {}
            self.requests: list[dict] = []
            self.deliveries: list[dict] = []
            self.counts = {"api_calls": 0, "errors_injected": 0, "events": 0, "delivered": 0}

    def configure(self, changes: dict) -> dict:
        with self.lock:
            for name, value in changes.items():
                if name not in KNOBS:
                    raise ValueError(f"unknown knob {name!r}; knobs: {', '.join(KNOBS)}")
                kind = KNOBS[name][0]
                self.knobs[name] = value if isinstance(value, kind) else kind(value)
            return dict(self.knobs)

    def faulty(self) -> bool:
        with self.lock:
            slow, rate = self.knobs["slow"], self.knobs["error_rate"]
            fault = self.random.random() < rate
            if fault:
                self.counts["errors_injected"] += 1
        if slow:
            time.sleep(slow)
        return fault

    # --- the API ----------------------------------------------------------------------

    def session_create(self, params: dict, base_url: str) -> dict:
        if params.get("mode") != "payment":
            raise StripeError(
                400,
                "This stand-in supports mode=payment only.",
                param="mode",
                code="parameter_invalid_string",
            )
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise StripeError(
                400,
                "Missing required param: line_items.",
                param="line_items",
                code="parameter_missing",
            )
        total, currency = 0, None
        for n, item in enumerate(items):
            price = item.get("price_data") if isinstance(item, dict) else None
            if not isinstance(price, dict):
                raise StripeError(
                    400,
                    "Missing required param: line_items[0][price_data].",
                    param=f"line_items[{n}][price_data]",
                    code="parameter_missing",
                )
            currency = price.get("currency", "")
            if currency not in CURRENCIES:
                raise StripeError(
                    400,
                    f"Invalid currency: {currency}.",
                    param=f"line_items[{n}][price_data][currency]",
                    code="invalid_currency",
                )
            amount, quantity = _integer(price.get("unit_amount")), _integer(item.get("quantity"))
            if amount is None or amount < 0:
                raise StripeError(
                    400,
                    "Invalid integer: unit_amount.",
                    param=f"line_items[{n}][price_data][unit_amount]",
                    code="parameter_invalid_integer",
                )
            if quantity is None or quantity < 1:
                raise StripeError(
                    400,
                    "Invalid integer: quantity.",
                    param=f"line_items[{n}][quantity]",
                    code="parameter_invalid_integer",
                )
            if not (price.get("product_data") or {}).get("name"):
                raise StripeError(
                    400,
                    "Missing required param: product_data[name].",
                    param=f"line_items[{n}][price_data][product_data][name]",
                    code="parameter_missing",
                )
            total += amount * quantity
        if not params.get("success_url"):
            raise StripeError(
                400,
                "Missing required param: success_url.",
                param="success_url",
                code="parameter_missing",
            )
        if len(params.get("client_reference_id") or "") > 200:
            raise StripeError(
                400,
                "client_reference_id is longer than 200 characters.",
                param="client_reference_id",
                code="string_length_exceeds_maximum",
            )
        now = int(time.time())
        expires_at = _integer(params.get("expires_at"), default=now + SESSION_LIFETIME[1])
        if expires_at is None or not SESSION_LIFETIME[0] <= expires_at - now <= SESSION_LIFETIME[1]:
            raise StripeError(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
                param="expires_at",
                code="parameter_invalid_integer",
            )
        session_id = _id("cs_test_", 58)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": currency,
            "customer": None,
            "customer_details": None,
            "expires_at": expires_at,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "mode": "payment",
            "payment_intent": None,
            "payment_method_types": ["card"],
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": f"{base_url}/c/pay/{session_id}",
        }
        with self.lock:
            self.sessions[session_id] = {"session": session, "params": params}
        return session

    def session_get(self, session_id: str) -> dict:
        with self.lock:
            found = self.sessions.get(session_id)
        if found is None:
            raise StripeError(
                404,
                f"No such checkout.session: '{session_id}'",
                param="session",
                code="resource_missing",
            )
        return found["session"]

    def session_expire(self, session_id: str) -> dict:
        session = self.session_get(session_id)
        with self.lock:
            if session["status"] != "open":
                raise StripeError(
                    400,
                    'Only Checkout Sessions with a status in ["open"] can be expired. This '
                    f'Checkout Session has a status of "{session["status"]}".',
                    code="checkout_session_not_open",
                )
            session["status"] = "expired"
        self.emit("checkout.session.expired", session)
        return session

    def session_pay(self, session_id: str) -> dict:
        """The buyer completes checkout: a new intent and charge, then the paid events."""
        session = self.session_get(session_id)
        intent_id, charge_id = _id("pi_3"), _id("ch_3")
        with self.lock:
            if session["status"] != "open" or session["expires_at"] < time.time():
                raise StripeError(
                    409,
                    f"Checkout Session {session_id} is {session['status']}.",
                    code="checkout_session_not_open",
                )
            params = self.sessions[session_id]["params"]
            metadata = (params.get("payment_intent_data") or {}).get("metadata") or {}
            amount, currency = session["amount_total"], session["currency"]
            self.intents[intent_id] = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount,
                "currency": currency,
                "latest_charge": charge_id,
                "metadata": metadata,
                "status": "succeeded",
                "created": int(time.time()),
                "livemode": False,
            }
            self.charges[charge_id] = {
                "id": charge_id,
                "object": "charge",
                "amount": amount,
                "amount_captured": amount,
                "amount_refunded": 0,
                "captured": True,
                "currency": currency,
                "metadata": metadata,
                "paid": True,
                "payment_intent": intent_id,
                "refunded": False,
                "status": "succeeded",
                "created": int(time.time()),
                "livemode": False,
            }
            session.update(
                status="complete",
                payment_status="paid",
                payment_intent=intent_id,
                customer_details={"email": "buyer@example.com", "name": "Jane Buyer"},
            )
            events = list(self.knobs["paid_events"])
        for kind in events:
            self.emit(
                kind, self.intents[intent_id] if kind.startswith("payment_intent.") else session
            )
        return session

    def refund_create(self, params: dict) -> dict:
        with self.lock:
            charge = self.charges.get(params.get("charge", ""))
            if charge is None and params.get("payment_intent") in self.intents:
                charge = self.charges[self.intents[params["payment_intent"]]["latest_charge"]]
            if charge is None:
                raise StripeError(
                    400,
                    "Missing required param: charge or payment_intent.",
                    param="charge",
                    code="parameter_missing",
                )
            left = charge["amount"] - charge["amount_refunded"]
            if left == 0:
                raise StripeError(
                    400,
                    f"Charge {charge['id']} has already been refunded.",
                    code="charge_already_refunded",
                )
            amount = _integer(params.get("amount"), default=left)
            if amount is None or not 0 < amount <= left:
                raise StripeError(
                    400,
                    f"Refund amount ({amount}) is greater than the unrefunded amount on the "
                    f"charge ({left}).",
                    param="amount",
                    code="amount_too_large",
                )
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            refund = {
                "id": _id("re_3"),
                "object": "refund",
                "amount": amount,
                "charge": charge["id"],
                "currency": charge["currency"],
                "payment_intent": charge["payment_intent"],
                "status": "succeeded",
                "created": int(time.time()),
            }
            snapshot = json.loads(json.dumps(charge))
        self.emit("charge.refunded", snapshot)
        return refund

    # --- webhooks ---------------------------------------------------------------------

    def emit(self, kind: str, obj: dict) -> None:
        """Queue one event (a snapshot of ``obj``) for delivery, with the knobs' copies."""
        event = {
            "id": _id("evt_1"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": json.loads(json.dumps(obj))},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": _id("req_", 14), "idempotency_key": None},
            "type": kind,
        }
        payload = json.dumps(event, indent=2)  # Stripe's bodies are pretty-printed
        with self.lock:
            self.counts["events"] += 1
            copies = 1 + max(0, self.knobs["duplicate_deliveries"])
            delay = self.knobs["delivery_delay"]
        for _ in range(copies):
            self._later(delay, event, payload, 1)

    def _later(self, delay: float, event: dict, payload: str, attempt: int) -> None:
        timer = threading.Timer(delay, self._deliver, (event, payload, attempt))
        timer.daemon = True
        timer.start()

    def _deliver(self, event: dict, payload: str, attempt: int) -> None:
        with self.lock:
            url, secret = self.knobs["webhook_url"], self.knobs["webhook_secret"]
            retries, retry_delay = self.knobs["retries"], self.knobs["retry_delay"]
        stamp = int(time.time())
        signature = hmac.new(
            secret.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256
        ).hexdigest()
        request = urllib.request.Request(
            url,
            data=payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": f"t={stamp},v1={signature}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, answer = response.status, response.read(2000).decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read(2000).decode(errors="replace")
        except OSError as exc:
            status, answer = 0, str(exc)
        with self.lock:
            self.deliveries.append(
                {
                    "event": event["id"],
                    "type": event["type"],
                    "attempt": attempt,
                    "status": status,
                    "answer": answer,
                }
            )
            if 200 <= status < 300:
                self.counts["delivered"] += 1
        if not 200 <= status < 300:
            log.warning("simulator.delivery_failed event=%s status=%s", event["id"], status)
            if attempt <= retries:
                self._later(retry_delay, event, payload, attempt + 1)

    def state(self) -> dict:
        with self.lock:
            return {
                "knobs": self.knobs,
                "counts": self.counts,
                "sessions": [
                    {**s["session"], "params": s["params"]} for s in self.sessions.values()
                ],
                "requests": self.requests,
                "deliveries": self.deliveries,
            }


def _integer(value, default=None) -> int | None:
    """A form value as an integer (form values are text); None when it is not one."""
    if value is None:
        return default
    return int(value) if isinstance(value, str) and re.fullmatch(r"-?\d+", value) else None


def decode_form(body: str) -> dict:
    """Stripe's form encoding: a[b][0][c]=v nests, numbered keys make lists."""
    root: dict = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if parts and isinstance(node, dict):
            node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as stripe-python pools connections
    sim: Simulator

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/simulator/state":
            return self._json(200, self.sim.state())
        if path.startswith("/c/pay/"):
            return self._pay_page(path.rsplit("/", 1)[1])
        match = re.fullmatch(r"/v1/checkout/sessions/([\w]+)", path)
        if match:
            return self._api(lambda params: self.sim.session_get(match[1]))
        return self._json(404, StripeError(404, f"Unrecognized request URL (GET: {path}).").body)

    def do_POST(self):
        path = urlsplit(self.path).path
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if path.startswith("/simulator/"):
            return self._control(path, body)
        if path.startswith("/c/pay/"):
            session_id = path.rsplit("/", 1)[1]
            try:
                session = self.sim.session_pay(session_id)
            except StripeError as error:
                return self._json(error.status, error.body)
            target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            self.send_response(303)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            return self.end_headers()
        routes = {
            "/v1/checkout/sessions": lambda p: self.sim.session_create(p, self._base_url()),
            "/v1/refunds": self.sim.refund_create,
        }
        match = re.fullmatch(r"/v1/checkout/sessions/([\w]+)/expire", path)
        if match:
            return self._api(lambda params: self.sim.session_expire(match[1]), body)
        if path not in routes:
            return self._json(
                404, StripeError(404, f"Unrecognized request URL (POST: {path}).").body
            )
        return self._api(routes[path], body)

    def _api(self, handler, body: str = ""):
        sim = self.sim
        given = _api_key(self.headers.get("Authorization", ""))
        if not hmac.compare_digest(given.encode(), sim.secret_key.encode()):
            shown = given[:7] + "*" * 4 + given[-4:] if given else ""
            return self._json(401, StripeError(401, f"Invalid API Key provided: {shown}").body)
        params = decode_form(body)
        key = self.headers.get("Idempotency-Key")
        with sim.lock:
            sim.counts["api_calls"] += 1
            sim.requests.append(
                {
                    "method": self.command,
                    "path": urlsplit(self.path).path,
                    "params": params,
                    "idempotency_key": key,
                    "stripe_version": self.headers.get("Stripe-Version"),
                }
            )
            replay = sim.idempotent.get(key) if key else None
        if replay is not None:
            if replay[0] != (self.path, body):
                error = StripeError(
                    400,
                    "Keys for idempotent requests can only be used with the same parameters "
                    "they were first used with.",
                    kind="idempotency_error",
                )
                return self._json(error.status, error.body)
            return self._json(replay[1], replay[2], replayed=True)
        if sim.faulty():
            error = StripeError(500, "An unknown error occurred", kind="api_error")
            return self._json(error.status, error.body)
        try:
            status, answer = 200, handler(params)
        except StripeError as error:
            status, answer = error.status, error.body
        if key and status < 500:
            with sim.lock:
                sim.idempotent[key] = ((self.path, body), status, answer)
        return self._json(status, answer)

    def _control(self, path: str, body: str):
        try:
            data = json.loads(body or "{}")
        except ValueError:
            return self._json(400, {"error": "the body is not JSON"})
        if path == "/simulator/config":
            try:
                return self._json(200, self.sim.configure(data))
            except (ValueError, TypeError) as exc:
                return self._json(400, {"error": str(exc)})
        if path == "/simulator/reset":
            self.sim.reset()
            return self._json(200, {"reset": True})
        match = re.fullmatch(r"/simulator/sessions/([\w]+)/pay", path)
        if match:
            try:
                return self._json(200, self.sim.session_pay(match[1]))
            except StripeError as error:
                return self._json(error.status, error.body)
        return self._json(404, {"error": f"no control endpoint {path}"})

    def _pay_page(self, session_id: str):
        try:
            session = self.sim.session_get(session_id)
        except StripeError as error:
            return self._json(error.status, error.body)
        amount = f"{session['currency'].upper()} {session['amount_total'] / 100:.2f}"
        page = (
            "<!doctype html><title>Stripe simulator checkout</title>"
            f"<h1>Pay {html.escape(amount)}</h1><p>Session {html.escape(session_id)}: "
            f"{html.escape(session['status'])}</p>"
            f'<form method="post"><button>Pay with a test card</button></form>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def _base_url(self) -> str:
        return f"http://{self.headers.get('Host') or '127.0.0.1'}"

    def _json(self, status: int, body: dict, replayed: bool = False):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", _id("req_", 14))
        self.send_header("Stripe-Version", API_VERSION)
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(data)


def _api_key(authorization: str) -> str:
    """The secret key of a request, sent as Stripe takes it: ``Bearer <key>`` (the libraries)
    or HTTP Basic with the key as the user name (``curl -u sk_test_...:``)."""
    scheme, _, value = authorization.partition(" ")
    if scheme == "Bearer":
        return value
    if scheme == "Basic":
        try:
            return base64.b64decode(value).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return ""
    return ""


def main() -> None:
    parser = server_parser("simulators.stripe", __doc__, "STRIPE_SIM_PORT", 8110)
    env = os.environ.get
    parser.add_argument("--secret-key", default=env("STRIPE_SECRET_KEY", "sk_test_dev"))
    parser.add_argument("--webhook-secret", default=env("STRIPE_WEBHOOK_SECRET", "whsec_dev"))
    parser.add_argument("--webhook-url", default=env("STRIPE_WEBHOOK_URL", KNOBS["webhook_url"][1]))
    parser.add_argument("--delay", type=float, help="Seconds before each delivery.")
    parser.add_argument("--seed", type=int, default=None, help="Repeatable faults.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    sim = Simulator(args.secret_key, args.seed)
    knobs = {"webhook_url": args.webhook_url, "webhook_secret": args.webhook_secret}
    if args.delay is not None:
        knobs["delivery_delay"] = args.delay
    sim.configure(knobs)
    Handler.sim = sim
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    log.info(
        "stripe simulator on http://%s:%s webhooks to %s", args.host, args.port, args.webhook_url
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
