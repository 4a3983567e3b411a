"""A stand-in for Safaricom Daraja, for development, demos and tests.

It speaks Daraja's HTTP API as the external formats reference describes it: OAuth
(client credentials), STK push (answers at once, then POSTs a realistic callback to the
CallBackURL after a delay), STK query, C2B URL registration and the sandbox's C2B simulate.
Outcomes follow configurable proportions, or are pinned per phone (phone_outcomes); faults
are knobs: slow answers (before the work: slow; after it, so the client times out on a push
Daraja did take: slow_answer), 500s (a rate, or the next fail_next calls), dropped and
duplicated callbacks. Change knobs while it runs with POST /simulator/config; list a phone's
pushes with GET /simulator/transactions?phone=...; deliver a push's callback again, late
(optionally with another ResultCode), with POST /simulator/resend {"checkout": ..., "code": ...}.

    python -m simulators.daraja --port 8100 --delay 1 --outcomes 0=85,1032=7,1037=5,1=3

Credentials default to DARAJA_CONSUMER_KEY/SECRET, DARAJA_SHORTCODE and DARAJA_PASSKEY from
the environment, so a stack and its simulator agree without configuration.
"""

import base64
import contextlib
import json
import logging
import os
import random
import re
import secrets
import string
import threading
import time
import urllib.request
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from simulators.cli import server_parser
from simulators.due import DueQueue

log = logging.getLogger("simulators.daraja")

NAIROBI = ZoneInfo("Africa/Nairobi")
FORBIDDEN_IN_URLS = ("mpesa", "m-pesa", "safaricom", "exe", "exec", "cmd", "sql", "query")
RESULT_DESCS = {
    0: "The service request is processed successfully.",
    1: "The balance is insufficient for the transaction.",
    1032: "Request cancelled by user",
    1037: "DS timeout user cannot be reached",
    2001: "The initiator information is invalid.",
}
KNOBS = {  # name: (type, default)
    "callback_delay": (float, 1.0),
    "outcomes": (dict, {"0": 85, "1032": 7, "1037": 5, "1": 3}),
    "phone_outcomes": (dict, {}),
    "slow": (float, 0.0),
    "slow_answer": (float, 0.0),
    "fail_next": (int, 0),
    "error_rate": (float, 0.0),
    "drop_rate": (float, 0.0),
    "duplicate_rate": (float, 0.0),
    "balance_missing_rate": (float, 0.5),
    "external_validation": (bool, True),
}


class Simulator:
    """Daraja's state: issued tokens, STK transactions, registered C2B URLs, knobs."""

    def __init__(self, key: str, secret: str, shortcode: str, passkey: str, seed: int | None):
        self.key, self.secret, self.shortcode, self.passkey = key, secret, shortcode, passkey
        self.knobs = {name: default for name, (_, default) in KNOBS.items()}
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.tokens: set[str] = set()
        self.transactions: dict[str, dict] = {}
        self.receipts: set[str] = set()
        self.c2b_urls: dict[str, dict] = {}
        self.counts = {
            "stk_push": 0,
            "callbacks_sent": 0,
            "callbacks_dropped": 0,
            "callbacks_failed": 0,
            "queries": 0,
            "errors_injected": 0,
        }
        self.outbox = CallbackSender(self)

    def configure(self, changes: dict) -> dict:
        with self.lock:
            for name, value in changes.items():
                if name not in KNOBS:
                    raise ValueError(f"unknown knob {name!r}; knobs: {', '.join(KNOBS)}")
                kind = KNOBS[name][0]
                if not isinstance(value, kind) or (kind is float and isinstance(value, bool)):
                    value = kind(value)
                self.knobs[name] = value
            return dict(self.knobs)

    def draw(self, rate_knob: str) -> bool:
        with self.lock:
            return self.random.random() < self.knobs[rate_knob]

    def outcome_for(self, phone: str) -> int:
        with self.lock:
            fixed = self.knobs["phone_outcomes"].get(phone)
            if fixed is not None:
                return int(fixed)
            codes, weights = zip(*self.knobs["outcomes"].items(), strict=True)
            return int(self.random.choices(codes, weights=[float(w) for w in weights])[0])

    def new_receipt(self) -> str:
        alphabet = string.ascii_uppercase + string.digits
        with self.lock:
            while True:
                receipt = "T" + "".join(self.random.choice(alphabet) for _ in range(9))
                if receipt not in self.receipts:
                    self.receipts.add(receipt)
                    return receipt

    def password_ok(self, body: dict) -> bool:
        stamp = str(body.get("Timestamp", ""))
        expected = base64.b64encode(f"{self.shortcode}{self.passkey}{stamp}".encode()).decode()
        return bool(re.fullmatch(r"\d{14}", stamp)) and body.get("Password") == expected

    # --- STK ---------------------------------------------------------------------------

    def stk_push(self, body: dict) -> tuple[int, dict]:
        problem = self._stk_problem(body)
        if problem:
            return 400, _error("400.002.02", f"Bad Request - Invalid {problem}")
        phone = str(body["PhoneNumber"])
        stamp = datetime.now(NAIROBI)
        checkout = (
            f"ws_CO_{stamp:%d%m%Y%H%M%S}{stamp.microsecond // 1000:03d}{phone}"
            f"{secrets.token_hex(3)}"
        )
        merchant = f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
        code = self.outcome_for(phone)
        transaction = {
            "merchant": merchant,
            "checkout": checkout,
            "phone": int(phone),
            "amount": int(body["Amount"]),
            "url": body["CallBackURL"],
            "code": code,
            "receipt": self.new_receipt() if code == 0 else None,
            "done": False,
        }
        with self.lock:
            self.transactions[checkout] = transaction
            self.counts["stk_push"] += 1
            delay = self.knobs["callback_delay"]
        self.outbox.schedule(time.monotonic() + delay, self._complete, checkout)
        return 200, {
            "MerchantRequestID": merchant,
            "CheckoutRequestID": checkout,
            "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing",
        }

    def _stk_problem(self, body: dict) -> str | None:
        if str(body.get("BusinessShortCode")) != self.shortcode:
            return "BusinessShortCode"
        if not self.password_ok(body):
            return "Password"
        if body.get("TransactionType") not in ("CustomerPayBillOnline", "CustomerBuyGoodsOnline"):
            return "TransactionType"
        amount = body.get("Amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= 250000:
            return "Amount"
        if not re.fullmatch(r"254[17]\d{8}", str(body.get("PhoneNumber", ""))):
            return "PhoneNumber"
        url = str(body.get("CallBackURL", ""))
        if not re.match(r"^https?://", url) or any(w in url.lower() for w in FORBIDDEN_IN_URLS):
            return "CallBackURL"
        if len(str(body.get("AccountReference", ""))) > 12:
            return "AccountReference"
        if len(str(body.get("TransactionDesc", ""))) > 13:
            return "TransactionDesc"
        return None

    def transactions_of(self, phone: str) -> list[dict]:
        with self.lock:
            found = [t for t in self.transactions.values() if str(t["phone"]) == phone]
        return [
            {k: t[k] for k in ("checkout", "merchant", "code", "receipt", "amount", "done")}
            for t in found
        ]

    def resend(self, body: dict) -> tuple[int, dict]:
        """Deliver a push's callback now (a late or repeated delivery), with ``code`` if given."""
        with self.lock:
            transaction = self.transactions.get(str(body.get("checkout")))
        if transaction is None:
            return 404, {"error": "no such CheckoutRequestID"}
        code = int(body.get("code", transaction["code"]))
        late = {**transaction, "code": code}
        if code == 0 and not late["receipt"]:
            late["receipt"] = self.new_receipt()
        self.outbox.send(transaction["url"], json.dumps(self._callback(late)).encode())
        return 200, {"sent": True, "code": code, "receipt": late["receipt"] if code == 0 else None}

    def _complete(self, checkout: str) -> None:
        """The payer answered (or did not): record the result and call back."""
        with self.lock:
            transaction = self.transactions[checkout]
            transaction["done"] = True
        if self.draw("drop_rate"):
            with self.lock:
                self.counts["callbacks_dropped"] += 1
            return
        payload = json.dumps(self._callback(transaction)).encode()
        times = 2 if self.draw("duplicate_rate") else 1
        for _ in range(times):
            self.outbox.post(transaction["url"], payload)

    def _callback(self, t: dict) -> dict:
        stk = {
            "MerchantRequestID": t["merchant"],
            "CheckoutRequestID": t["checkout"],
            "ResultCode": t["code"],
            "ResultDesc": RESULT_DESCS.get(t["code"], "The transaction failed."),
        }
        if t["code"] == 0:
            balance = {"Name": "Balance"}
            if not self.draw("balance_missing_rate"):
                balance["Value"] = round(self.random.uniform(0, 50000), 2)
            stk["CallbackMetadata"] = {
                "Item": [
                    {"Name": "Amount", "Value": t["amount"]},
                    {"Name": "MpesaReceiptNumber", "Value": t["receipt"]},
                    balance,
                    {
                        "Name": "TransactionDate",
                        "Value": int(f"{datetime.now(NAIROBI):%Y%m%d%H%M%S}"),
                    },
                    {"Name": "PhoneNumber", "Value": t["phone"]},
                ]
            }
        return {"Body": {"stkCallback": stk}}

    def stk_query(self, body: dict) -> tuple[int, dict]:
        if str(body.get("BusinessShortCode")) != self.shortcode or not self.password_ok(body):
            return 400, _error("400.002.02", "Bad Request - Invalid Password")
        with self.lock:
            self.counts["queries"] += 1
            t = self.transactions.get(str(body.get("CheckoutRequestID")))
        if t is None:
            return 500, _error("500.001.1001", "The transaction does not Exist")
        if not t["done"]:
            return 500, _error("500.001.1001", "The transaction is being processed")
        return 200, {
            "ResponseCode": "0",
            "ResponseDescription": "The service request has been accepted successsfully",
            "MerchantRequestID": t["merchant"],
            "CheckoutRequestID": t["checkout"],
            "ResultCode": str(t["code"]),
            "ResultDesc": RESULT_DESCS.get(t["code"], "The transaction failed."),
        }

    # --- C2B ---------------------------------------------------------------------------

    def c2b_register(self, body: dict) -> tuple[int, dict]:
        urls = (str(body.get("ConfirmationURL", "")), str(body.get("ValidationURL", "")))
        if str(body.get("ShortCode")) != self.shortcode or not all(urls):
            return 400, _error("400.002.02", "Bad Request - Invalid ShortCode or URL")
        with self.lock:
            self.c2b_urls[self.shortcode] = {"confirm": urls[0], "validate": urls[1]}
        return 200, {
            "OriginatorCoversationID": secrets.token_hex(8),
            "ResponseCode": "0",
            "ResponseDescription": "Success",
        }

    def c2b_simulate(self, body: dict) -> tuple[int, dict]:
        with self.lock:
            urls = self.c2b_urls.get(str(body.get("ShortCode")))
            validate = self.knobs["external_validation"]
        if urls is None:
            return 400, _error("400.002.02", "Bad Request - No URLs registered")
        stamp = datetime.now(NAIROBI)
        phone = str(body.get("Msisdn", "254700000000"))
        notice = {
            "TransactionType": "Pay Bill",
            "TransID": self.new_receipt(),
            "TransTime": f"{stamp:%Y%m%d%H%M%S}",
            "TransAmount": f"{float(body['Amount']):.2f}",
            "BusinessShortCode": self.shortcode,
            "BillRefNumber": str(body.get("BillRefNumber", "")),
            "InvoiceNumber": "",
            "OrgAccountBalance": "",
            "ThirdPartyTransID": "",
            "MSISDN": f"{phone[:4]} ***** {phone[-3:]}",
            "FirstName": "JANE",
            "MiddleName": "",
            "LastName": "",
        }
        threading.Thread(
            target=self._c2b_deliver, args=(urls, notice, validate), daemon=True
        ).start()
        return 200, {
            "OriginatorCoversationID": secrets.token_hex(8),
            "ResponseCode": "0",
            "ResponseDescription": "Accept the service request successfully.",
        }

    def _c2b_deliver(self, urls: dict, notice: dict, validate: bool) -> None:
        if validate:
            answer = self.outbox.send(urls["validate"], json.dumps(notice).encode())
            if not answer or str(answer.get("ResultCode")) != "0":
                return  # rejected: the money never moves
        notice["OrgAccountBalance"] = f"{self.random.uniform(1000, 90000):.2f}"
        self.outbox.post(urls["confirm"], json.dumps(notice).encode())


class CallbackSender(DueQueue):
    """Delivers callbacks from a few threads, in due-time order, without a thread per call."""

    def __init__(self, sim: Simulator, threads: int = 8):
        self.sim = sim
        super().__init__(threads)

    def post(self, url: str, payload: bytes) -> None:
        self.schedule(0, self.send, url, payload)

    def send(self, url: str, payload: bytes) -> dict | None:
        request = urllib.request.Request(
            url,
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json;charset=UTF-8",
                "BusinessShortCode": self.sim.shortcode,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                answer = json.loads(response.read() or b"{}")
            with self.sim.lock:
                self.sim.counts["callbacks_sent"] += 1
            return answer
        except Exception as exc:  # a dead endpoint is Daraja's problem to ignore, not ours
            with self.sim.lock:
                self.sim.counts["callbacks_failed"] += 1
            log.warning("simulator.callback_failed url=%s error=%s", url, exc)
            return None


def _error(code: str, message: str) -> dict:
    return {"requestId": secrets.token_hex(8), "errorCode": code, "errorMessage": message}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections
    sim: Simulator

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self):
        path = urlsplit(self.path)
        if path.path == "/oauth/v1/generate":
            return self._oauth(parse_qs(path.query))
        if path.path == "/simulator/transactions":
            phone = parse_qs(path.query).get("phone", [""])[0]
            return self._answer(200, {"transactions": self.sim.transactions_of(phone)})
        if path.path == "/simulator/state":
            with self.sim.lock:
                return self._answer(
                    200,
                    {
                        "knobs": self.sim.knobs,
                        "counts": self.sim.counts,
                        "transactions": len(self.sim.transactions),
                    },
                )
        return self._answer(404, _error("404.001.01", "Resource not found"))

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._answer(400, _error("400.002.05", "Invalid Request Payload"))
        if self.path == "/simulator/config":
            try:
                return self._answer(200, self.sim.configure(body))
            except (ValueError, TypeError) as exc:
                return self._answer(400, {"error": str(exc)})
        if self.path == "/simulator/resend":
            return self._answer(*self.sim.resend(body if isinstance(body, dict) else {}))
        routes = {
            "/mpesa/stkpush/v1/processrequest": self.sim.stk_push,
            "/mpesa/stkpushquery/v1/query": self.sim.stk_query,
            "/mpesa/c2b/v1/registerurl": self.sim.c2b_register,
            "/mpesa/c2b/v2/registerurl": self.sim.c2b_register,
            "/mpesa/c2b/v1/simulate": self.sim.c2b_simulate,
        }
        handler = routes.get(self.path)
        if handler is None:
            return self._answer(404, _error("404.001.01", "Resource not found"))
        if not self._authorized():
            return self._answer(401, _error("404.001.03", "Invalid Access Token"))
        if self._faulty():
            return self._answer(500, _error("500.003.02", "System is busy. Please try again"))
        answer = handler(body if isinstance(body, dict) else {})
        if self.sim.knobs["slow_answer"]:
            time.sleep(self.sim.knobs["slow_answer"])  # done, but answered too late
        return self._answer(*answer)

    def _oauth(self, query: dict):
        expected = base64.b64encode(f"{self.sim.key}:{self.sim.secret}".encode()).decode()
        if (
            query.get("grant_type") != ["client_credentials"]
            or self.headers.get("Authorization") != f"Basic {expected}"
        ):
            return self._answer(400, _error("400.008.01", "Invalid Authentication passed"))
        token = secrets.token_urlsafe(20)
        with self.sim.lock:
            self.sim.tokens.add(token)
        return self._answer(200, {"access_token": token, "expires_in": "3599"})

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        with self.sim.lock:
            return header.startswith("Bearer ") and header[7:] in self.sim.tokens

    def _faulty(self) -> bool:
        slow = self.sim.knobs["slow"]
        if slow:
            time.sleep(slow)
        with self.sim.lock:
            pinned = self.sim.knobs["fail_next"] > 0
            if pinned:
                self.sim.knobs["fail_next"] -= 1
        if pinned or self.sim.draw("error_rate"):
            with self.sim.lock:
                self.sim.counts["errors_injected"] += 1
            return True
        return False

    def _answer(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    parser = server_parser("simulators.daraja", __doc__, "DARAJA_SIM_PORT", 8100)
    env = os.environ.get
    parser.add_argument("--key", default=env("DARAJA_CONSUMER_KEY", "dev-key"))
    parser.add_argument("--secret", default=env("DARAJA_CONSUMER_SECRET", "dev-secret"))
    parser.add_argument("--shortcode", default=env("DARAJA_SHORTCODE", "174379"))
    parser.add_argument(
        "--passkey",
        default=env(
            "DARAJA_PASSKEY", "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
        ),
    )
    parser.add_argument("--seed", type=int, default=None, help="Repeatable outcomes.")
    parser.add_argument("--delay", type=float, help="Seconds before each callback.")
    parser.add_argument("--outcomes", help="ResultCode=weight,... e.g. 0=85,1032=7,1037=5,1=3")
    for knob in ("slow", "error_rate", "drop_rate", "duplicate_rate"):
        parser.add_argument(f"--{knob.replace('_', '-')}", type=float, dest=knob)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    sim = Simulator(args.key, args.secret, args.shortcode, args.passkey, args.seed)
    knobs = {
        k: getattr(args, k)
        for k in ("slow", "error_rate", "drop_rate", "duplicate_rate")
        if getattr(args, k) is not None
    }
    if args.delay is not None:
        knobs["callback_delay"] = args.delay
    if args.outcomes:
        knobs["outcomes"] = dict(pair.split("=") for pair in args.outcomes.split(","))
    sim.configure(knobs)
    Handler.sim = sim
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    log.info("daraja simulator on http://%s:%s knobs=%s", args.host, args.port, sim.knobs)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
