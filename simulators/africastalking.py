"""A stand-in for Africa's Talking's SMS API, for development, demos and tests.

It speaks the HTTP API as the external formats reference describes it: POST
/version1/messaging, form-encoded (username, to as comma-separated +254... numbers, message,
optional from, bulkSMSMode, enqueue) with the key in the apiKey header, answered 201 with one
SMSMessageData.Recipients entry per number (statusCode, status, cost per part, messageId);
a wrong key or username is a 401 with a text body. For every accepted recipient it POSTs a
delivery report, form-encoded (id, status, phoneNumber, networkCode, failureReason, retryCount),
to the delivery report URL after a delay.

Faults are knobs (POST /simulator/config, JSON): slow answers (before the message is taken:
slow; after it, so a client that times out has had its message sent: slow_answer), server
errors (the next fail_next sends, or a share error_rate, answered fail_status: 500 by default),
per-number status codes (numbers), and for the
reports their URL, delay, duplicates, final status (dlr_status, or per number: dlr_numbers)
and an intermediate report before the final one. GET /simulator/messages lists what was
received, GET /simulator/state the counts and knobs; POST /simulator/reset forgets messages,
counts and pending reports and restores the knobs it started with; POST /simulator/resend
{"id": ..., "status": ...} delivers a message's report again (a replay, or a late change).

    python -m simulators.africastalking --port 8120 --dlr-url http://127.0.0.1:8000/hooks/sms/t/

The API key and username default to AFRICASTALKING_API_KEY and AFRICASTALKING_USERNAME from
the environment, the report URL to AT_SIM_DLR_URL, so a stack and its simulator agree without
configuration.
"""

import contextlib
import json
import logging
import math
import os
import random
import re
import secrets
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from simulators.cli import server_parser
from simulators.due import DueQueue

log = logging.getLogger("simulators.africastalking")

MAX_BODY = 1024 * 1024
PRICE_PER_PART = 0.8  # KES
# Per-recipient statusCode -> status, as Africa's Talking documents them.
STATUSES = {
    100: "Processed",
    101: "Success",
    102: "Queued",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}
ACCEPTED = {100, 101, 102}
FINAL_REPORTS = {"Success", "Rejected", "Failed"}
REPORTS = {"Sent", "Submitted", "Buffered", *FINAL_REPORTS}
KENYAN_NUMBER = re.compile(r"\+254\d{9}")
# Mobile network codes by number prefix: Safaricom 63902, Airtel 63903, Telkom 63907.
NETWORKS = ((r"\+2547[3568]", "63903"), (r"\+25410", "63903"), (r"\+25477", "63907"))
SAFARICOM = "63902"
# GSM 03.38: a message of these fits 160 characters a part; the extension set counts twice.
GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
    "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = set("^{}\\[~]|€\f")
KNOBS = {  # name: (type, default)
    "slow": (float, 0.0),
    "slow_answer": (float, 0.0),
    "fail_next": (int, 0),
    "error_rate": (float, 0.0),
    "fail_status": (int, 500),
    "numbers": (dict, {}),
    "dlr_url": (str, ""),
    "dlr_delay": (float, 0.2),
    "dlr_duplicates": (int, 0),
    "dlr_status": (str, "Success"),
    "dlr_numbers": (dict, {}),
    "dlr_intermediate": (bool, False),
}


def parts(message: str) -> int:
    """How many SMS parts Africa's Talking bills ``message`` as."""
    if set(message) <= GSM_BASIC | GSM_EXTENSION:
        length = len(message) + sum(ch in GSM_EXTENSION for ch in message)
        return math.ceil(length / 160)
    return math.ceil(len(message) / 70)


def network_code(number: str) -> str:
    return next((code for prefix, code in NETWORKS if re.match(prefix, number)), SAFARICOM)


def _checked(name: str, value):
    """A knob's value if it has the knob's type (and, for the tables, valid entries)."""
    kind = KNOBS[name][0]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"knob {name!r} takes a {kind.__name__}, not {value!r}")
    if name == "numbers" and not all(
        isinstance(code, int) and code in STATUSES for code in value.values()
    ):
        raise ValueError(f"numbers: status codes are among {sorted(STATUSES)}")
    if name == "dlr_status" and value not in FINAL_REPORTS:
        raise ValueError(f"dlr_status is one of {sorted(FINAL_REPORTS)}")
    if name == "dlr_numbers" and not all(
        isinstance(v, list) and 1 <= len(v) <= 2 and v[0] in FINAL_REPORTS for v in value.values()
    ):
        raise ValueError(f"dlr_numbers: number -> [status, reason], status in {FINAL_REPORTS}")
    return value


class Simulator:
    """The gateway's state: the messages it took, the counts, the knobs."""

    def __init__(self, api_key: str, username: str, knobs: dict, seed: int | None):
        self.api_key, self.username = api_key, username
        self.started_with = {name: default for name, (_, default) in KNOBS.items()}
        self.started_with.update({name: _checked(name, v) for name, v in knobs.items()})
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.outbox = ReportSender(self)
        self.reset()

    def reset(self) -> None:
        self.outbox.clear()
        with self.lock:
            self.knobs = json.loads(json.dumps(self.started_with))
            self.messages: list[dict] = []
            self.counts = {
                "sends": 0,
                "messages": 0,
                "reports_sent": 0,
                "reports_failed": 0,
                "errors_injected": 0,
            }

    def configure(self, changes: dict) -> dict:
        unknown = set(changes) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown knob {sorted(unknown)}; knobs: {', '.join(KNOBS)}")
        checked = {name: _checked(name, value) for name, value in changes.items()}
        with self.lock:
            self.knobs.update(checked)
            return dict(self.knobs)

    def faulty(self) -> bool:
        """Sleep ``slow``, then whether this send is one of the injected 500s."""
        slow = self.knobs["slow"]
        if slow:
            time.sleep(slow)
        with self.lock:
            fault = self.knobs["fail_next"] > 0
            if fault:
                self.knobs["fail_next"] -= 1
            fault = fault or self.random.random() < self.knobs["error_rate"]
            if fault:
                self.counts["errors_injected"] += 1
            return fault

    def send(self, form: dict) -> dict:
        """Take a send: one recipient each, recorded, with their reports scheduled."""
        message = form["message"]
        numbers = [n.strip() for n in form["to"].split(",") if n.strip()]
        cost = PRICE_PER_PART * parts(message)
        now = time.time()
        with self.lock:
            pinned, knobs = self.knobs["numbers"], json.loads(json.dumps(self.knobs))
            recipients, records = [], []
            for number in numbers:
                code = int(pinned.get(number, 101 if KENYAN_NUMBER.fullmatch(number) else 403))
                accepted = code in ACCEPTED
                recipient = {
                    "statusCode": code,
                    "number": number,
                    "status": STATUSES[code],
                    "cost": f"KES {cost:.4f}" if accepted else "0",
                    "messageId": f"ATXid_{secrets.token_hex(16)}" if accepted else "None",
                }
                recipients.append(recipient)
                records.append(
                    {
                        "id": recipient["messageId"],
                        "to": number,
                        "from": form.get("from", ""),
                        "message": message,
                        "statusCode": code,
                        "received_at": now,
                        "username": form["username"],
                    }
                )
            self.messages.extend(records)
            self.counts["sends"] += 1
            self.counts["messages"] += len(records)
        sent = [r for r in recipients if r["statusCode"] in ACCEPTED]
        total = f"KES {cost * len(sent):.4f}" if sent else "0"
        if knobs["dlr_url"]:
            due = time.monotonic() + knobs["dlr_delay"]
            for recipient in sent:
                self.outbox.schedule(due, self._report, recipient, knobs)
        return {
            "SMSMessageData": {
                "Message": f"Sent to {len(sent)}/{len(recipients)} Total Cost: {total}",
                "Recipients": recipients,
            }
        }

    def _report(self, recipient: dict, knobs: dict) -> None:
        """A message's reports, in order: the intermediate one if asked, the final one and
        its duplicates."""
        number = recipient["number"]
        status, *reason = knobs["dlr_numbers"].get(number, [knobs["dlr_status"]])
        reports = [self.report(recipient["messageId"], number, status, *reason)]
        reports *= 1 + max(0, knobs["dlr_duplicates"])
        if knobs["dlr_intermediate"]:
            reports.insert(0, self.report(recipient["messageId"], number, "Sent"))
        for fields in reports:
            self.outbox.send(knobs["dlr_url"], fields)

    @staticmethod
    def report(message_id: str, number: str, status: str, reason: str = "") -> dict:
        fields = {
            "id": message_id,
            "status": status,
            "phoneNumber": number,
            "networkCode": network_code(number),
            "retryCount": "0",
        }
        if status in ("Rejected", "Failed"):
            fields["failureReason"] = reason or "DeliveryFailure"
        return fields

    def resend(self, body: dict) -> tuple[int, dict]:
        """Deliver a message's report again now, with ``status`` (and ``failureReason``)
        if given: a replay, or a late change of mind."""
        with self.lock:
            found = next((m for m in self.messages if m["id"] == body.get("id")), None)
            url = self.knobs["dlr_url"]
        if found is None or found["statusCode"] not in ACCEPTED:
            return 404, {"error": "no accepted message with that id"}
        if not url:
            return 409, {"error": "no dlr_url to deliver to"}
        status = body.get("status", "Success")
        if not isinstance(status, str) or status not in REPORTS:
            return 400, {"error": f"status is one of {sorted(REPORTS)}"}
        fields = self.report(found["id"], found["to"], status, str(body.get("failureReason", "")))
        return 200, {"sent": self.outbox.send(url, fields), "report": fields}

    def state(self) -> dict:
        with self.lock:
            return {
                "counts": dict(self.counts),
                "knobs": dict(self.knobs),
                "pending_reports": len(self.outbox.heap),
            }


class ReportSender(DueQueue):
    """Delivers reports from a few threads, in due-time order, without a thread per report."""

    def __init__(self, sim: Simulator, threads: int = 4):
        self.sim = sim
        super().__init__(threads)

    def send(self, url: str, fields: dict) -> bool:
        request = urllib.request.Request(
            url,
            data=urlencode(fields).encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
            with self.sim.lock:
                self.sim.counts["reports_sent"] += 1
            return True
        except Exception as exc:  # an endpoint that is down is counted, as the gateway shrugs
            with self.sim.lock:
                self.sim.counts["reports_failed"] += 1
            log.warning("simulator.report_failed url=%s id=%s error=%s", url, fields["id"], exc)
            return False


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients pool connections
    sim: Simulator

    def log_message(self, format, *args):
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/simulator/messages":
            with self.sim.lock:
                return self._json(200, list(self.sim.messages))
        if path == "/simulator/state":
            return self._json(200, self.sim.state())
        return self._text(404, "Not Found")

    def do_POST(self):
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True  # the body stays unread
            if not length.isdigit():
                return self._text(400, "Bad Content-Length")
            return self._text(413, "Request Entity Too Large")
        body = self.rfile.read(int(length)).decode(errors="replace")
        path = urlsplit(self.path).path
        if path.startswith("/simulator/"):
            return self._control(path, body)
        if path != "/version1/messaging":
            return self._text(404, "Not Found")
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        if (
            not secrets.compare_digest(
                self.headers.get("apiKey", "").encode(), self.sim.api_key.encode()
            )
            or form.get("username") != self.sim.username
        ):
            return self._text(401, "The supplied authentication is invalid")
        if self.sim.faulty():
            status = self.sim.knobs["fail_status"]
            return self._text(status, "Service Unavailable" if status == 503 else "Server Error")
        for field in ("to", "message"):
            if not form.get(field, "").strip():
                return self._text(400, f"Request is missing required form field '{field}'")
        answer = self.sim.send(form)
        if self.sim.knobs["slow_answer"]:
            time.sleep(self.sim.knobs["slow_answer"])  # sent, but answered too late
        return self._json(201, answer)

    def _control(self, path: str, body: str):
        try:
            data = json.loads(body or "{}")
        except ValueError:
            return self._json(400, {"error": "the body is not JSON"})
        if not isinstance(data, dict):
            return self._json(400, {"error": "the body is not a JSON object"})
        if path == "/simulator/config":
            try:
                return self._json(200, self.sim.configure(data))
            except (ValueError, TypeError) as exc:
                return self._json(400, {"error": str(exc)})
        if path == "/simulator/reset":
            self.sim.reset()
            return self._json(200, {"reset": True})
        if path == "/simulator/resend":
            return self._json(*self.sim.resend(data))
        return self._json(404, {"error": f"no control endpoint {path}"})

    def _json(self, status: int, body):
        self._write(status, "application/json", json.dumps(body).encode())

    def _text(self, status: int, text: str):
        self._write(status, "text/plain; charset=utf-8", text.encode())

    def _write(self, status: int, content_type: str, data: bytes):
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client gave up
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)


def main() -> None:
    parser = server_parser("simulators.africastalking", __doc__, "AT_SIM_PORT", 8120)
    env = os.environ.get
    parser.add_argument("--api-key", default=env("AFRICASTALKING_API_KEY", "dev-at-key"))
    parser.add_argument("--username", default=env("AFRICASTALKING_USERNAME", "sandbox"))
    parser.add_argument("--dlr-url", default=env("AT_SIM_DLR_URL", ""), help="Reports go here.")
    parser.add_argument("--seed", type=int, default=None, help="Repeatable faults.")
    args = parser.parse_args()
    if not args.api_key:
        parser.error("an API key is needed (--api-key or AFRICASTALKING_API_KEY)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    Handler.sim = Simulator(args.api_key, args.username, {"dlr_url": args.dlr_url}, args.seed)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    log.info(
        "africastalking simulator on http://%s:%s reports to %s",
        args.host,
        args.port,
        args.dlr_url or "(nowhere)",
    )
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
