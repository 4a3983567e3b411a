"""A stand-in for a MikroTik router's API service, for development, demos and tests.

It speaks the RouterOS API wire protocol as the external formats reference describes it:
length-prefixed words, sentences ended by an empty word, !re / !done / !trap / !fatal
replies, .tag echoed on every reply, plain /login (RouterOS >= 6.43), ?-queries with the
?# stack and =.proplist=. Menus: /ip/hotspot/user (print, add, set, remove),
/ip/hotspot/user/profile (print, add, set, remove), /ip/hotspot/active (print, remove),
/system/resource/print and /system/identity/print, with RouterOS's own trap texts. State
lives in memory.

    python -m simulators.routeros --port 8728 [--control-port 8081] [--tls-cert C --tls-key K]

Fault knobs, set over HTTP on the control port (POST /config): latency (s before each
reply), refuse_next (accept and close the next N connections), down (stop listening:
connections are refused), drop_next (cut the next N replies mid-sentence and hang up),
trap_next (answer the next N commands with a trap). GET /state shows the users, profiles
and sessions; POST /sessions {"user": name} logs a user in; POST /reset empties it all.
"""

import argparse
import contextlib
import json
import logging
import os
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("simulators.routeros")

DUPLICATE_USER = "failure: already have user with this name for this server"
DUPLICATE_PROFILE = "failure: already have profile with such name"
UNKNOWN_PROFILE = "input does not match any value of profile"
NO_SUCH_ITEM = "no such item"
BAD_LOGIN = "invalid user name or password (6)"
KNOBS = {"latency": 0.005, "refuse_next": 0, "down": False, "drop_next": 0, "trap_next": 0}


class ProtocolError(Exception):
    """The peer sent something that is not the API protocol."""


# --- the wire -----------------------------------------------------------------------------


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return length.to_bytes(1, "big")
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    return b"\xf0" + length.to_bytes(4, "big")


def encode_sentence(words: list[str]) -> bytes:
    out = bytearray()
    for word in words:
        data = word.encode("utf-8")
        out += encode_length(len(data)) + data
    return bytes(out + b"\x00")


def _read_exact(sock, count: int) -> bytes:
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return bytes(data)


def read_length(sock) -> int:
    first = _read_exact(sock, 1)[0]
    if first < 0x80:
        return first
    if first < 0xC0:
        return int.from_bytes(bytes([first & 0x3F]) + _read_exact(sock, 1), "big")
    if first < 0xE0:
        return int.from_bytes(bytes([first & 0x1F]) + _read_exact(sock, 2), "big")
    if first < 0xF0:
        return int.from_bytes(bytes([first & 0x0F]) + _read_exact(sock, 3), "big")
    if first == 0xF0:
        return int.from_bytes(_read_exact(sock, 4), "big")
    raise ProtocolError(f"control byte {first:#x}")


def read_sentence(sock) -> list[str]:
    words = []
    while length := read_length(sock):
        words.append(_read_exact(sock, length).decode("utf-8", errors="replace"))
    return words


# --- the router's state ------------------------------------------------------------------


def _fmt(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # RouterOS 7 prints booleans so
    return str(value)


class Menu:
    """One RouterOS menu: rows with .id, optionally unique by name."""

    def __init__(self, router: "Router", defaults: dict, unique_name: str | None):
        self.router, self.defaults, self.unique_name = router, defaults, unique_name
        self.rows: dict[str, dict] = {}

    def find(self, item_id: str) -> dict:
        if item_id not in self.rows:
            raise Trap(NO_SUCH_ITEM)
        return self.rows[item_id]

    def check_name(self, name, skip: str | None = None) -> None:
        if self.unique_name and any(
            r.get("name") == name and i != skip for i, r in self.rows.items()
        ):
            raise Trap(self.unique_name)

    def add(self, attrs: dict) -> str:
        self.check_name(attrs.get("name"))
        row = {**self.defaults, **attrs}
        self.router.validate(self, row)
        item_id = self.router.next_id()
        self.rows[item_id] = {".id": item_id, **row}
        return item_id

    def set(self, attrs: dict) -> None:
        ids = attrs.pop(".id", "")
        for item_id in ids.split(","):
            row = self.find(item_id)
            if "name" in attrs:
                self.check_name(attrs["name"], skip=item_id)
            self.router.validate(self, {**row, **attrs})
            row.update(attrs)

    def remove(self, attrs: dict) -> None:
        ids = attrs.get(".id", "").split(",")
        for item_id in ids:
            self.find(item_id)
        for item_id in ids:
            del self.rows[item_id]


class Trap(Exception):
    def __init__(self, message: str, category: int | None = None):
        super().__init__(message)
        self.message, self.category = message, category


class Router:
    def __init__(self, username: str, password: str, identity: str):
        self.username, self.password, self.identity = username, password, identity
        self.lock = threading.RLock()
        self.knobs = dict(KNOBS)
        self.counts = {"connections": 0, "logins": 0, "commands": 0, "refused": 0}
        self.started = time.monotonic()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self._next = 0
            self.users = Menu(
                self,
                {
                    "profile": "default",
                    "server": "all",
                    "password": "",
                    "limit-uptime": "0s",
                    "limit-bytes-total": "0",
                    "comment": "",
                    "disabled": False,
                    "uptime": "0s",
                    "bytes-in": "0",
                    "bytes-out": "0",
                },
                DUPLICATE_USER,
            )
            self.profiles = Menu(
                self,
                {"rate-limit": "", "shared-users": "1", "session-timeout": "0s"},
                DUPLICATE_PROFILE,
            )
            self.active = Menu(
                self,
                {
                    "server": "hotspot1",
                    "address": "10.5.50.2",
                    "mac-address": "00:00:5E:00:53:01",
                    "login-by": "http-chap",
                    "uptime": "1m",
                    "idle-time": "0s",
                },
                None,
            )
            self.profiles.add({"name": "default"})

    def next_id(self) -> str:
        self._next += 1
        return f"*{self._next:X}"

    def validate(self, menu: Menu, row: dict) -> None:
        if menu is self.users and not any(
            p.get("name") == row.get("profile") for p in self.profiles.rows.values()
        ):
            raise Trap(UNKNOWN_PROFILE, category=1)

    def menus(self) -> dict[str, Menu]:
        return {
            "/ip/hotspot/user": self.users,
            "/ip/hotspot/user/profile": self.profiles,
            "/ip/hotspot/active": self.active,
        }

    def resource(self) -> dict:
        uptime = int(time.monotonic() - self.started)
        return {
            "uptime": f"{uptime // 3600}h{uptime % 3600 // 60}m{uptime % 60}s",
            "version": "7.14.3 (stable)",
            "build-time": "2024-04-17 12:47:58",
            "free-memory": "141561856",
            "total-memory": "268435456",
            "cpu": "ARMv7",
            "cpu-count": "4",
            "cpu-frequency": "716",
            "cpu-load": "3",
            "free-hdd-space": "5431296",
            "total-hdd-space": "16777216",
            "architecture-name": "arm",
            "board-name": "hAP ac^2",
            "platform": "MikroTik",
        }

    def take(self, knob: str) -> bool:
        """Use up one count of a countdown knob."""
        with self.lock:
            if self.knobs[knob] > 0:
                self.knobs[knob] -= 1
                return True
            return False


# --- one API connection --------------------------------------------------------------------


class Connection:
    def __init__(self, router: Router, sock: socket.socket):
        self.router, self.sock, self.logged_in = router, sock, False

    def serve(self) -> None:
        try:
            while True:
                words = read_sentence(self.sock)
                if words and not self.handle(words):
                    return
        except (ConnectionError, OSError, ProtocolError) as exc:
            log.debug("connection ended: %s", exc)
        finally:
            self.sock.close()

    def handle(self, words: list[str]) -> bool:
        """Answer one sentence; False once the connection must close."""
        command, attrs, queries, tag = words[0], {}, [], None
        for word in words[1:]:
            if word.startswith(".tag="):
                tag = word[5:]
            elif word.startswith("="):
                key, _, value = word[1:].partition("=")
                attrs[key] = value
            elif word.startswith("?"):
                queries.append(word[1:])
        with self.router.lock:
            self.router.counts["commands"] += 1
            latency = self.router.knobs["latency"]
        if latency:
            time.sleep(latency)
        replies = self.answer(command, attrs, queries)
        if tag is not None:
            replies = [[*r, f".tag={tag}"] for r in replies]
        data = b"".join(encode_sentence(r) for r in replies)
        if self.router.take("drop_next"):
            self.sock.sendall(data[: max(1, len(data) // 2)])  # then hang up mid-sentence
            return False
        self.sock.sendall(data)
        return not (replies and replies[-1][0] == "!fatal")

    def answer(self, command: str, attrs: dict, queries: list[str]) -> list[list[str]]:
        if command == "/login":
            return self.login(attrs)
        if command == "/quit":
            return [["!fatal", "session terminated on request"]]
        if not self.logged_in:
            return [["!fatal", "not logged in"]]
        if self.router.take("trap_next"):
            return [["!trap", "=message=failure: simulated fault"], ["!done"]]
        try:
            with self.router.lock:
                return self.run(command, attrs, queries)
        except Trap as trap:
            words = ["!trap", f"=message={trap.message}"]
            if trap.category is not None:
                words.insert(1, f"=category={trap.category}")
            return [words, ["!done"]]  # RouterOS ends a trapped command with !done too

    def login(self, attrs: dict) -> list[list[str]]:
        if (
            attrs.get("name") == self.router.username
            and attrs.get("password") == self.router.password
        ):
            self.logged_in = True
            with self.router.lock:
                self.router.counts["logins"] += 1
            return [["!done"]]
        return [["!trap", f"=message={BAD_LOGIN}"], ["!done"]]

    def run(self, command: str, attrs: dict, queries: list[str]) -> list[list[str]]:
        menu_path, _, verb = command.rpartition("/")
        if command == "/system/resource/print":
            return self.rows([self.router.resource()], attrs, queries)
        if command == "/system/identity/print":
            return self.rows([{"name": self.router.identity}], attrs, queries)
        menu = self.router.menus().get(menu_path)
        if menu is None:
            raise Trap("no such command prefix", category=0)
        if verb == "print":
            return self.rows(list(menu.rows.values()), attrs, queries)
        if verb == "add" and menu is not self.router.active:
            return [["!done", f"=ret={menu.add(attrs)}"]]
        if verb == "set" and menu is not self.router.active:
            menu.set(attrs)
            return [["!done"]]
        if verb == "remove":
            menu.remove(attrs)
            return [["!done"]]
        raise Trap("no such command", category=0)

    def rows(self, rows: list[dict], attrs: dict, queries: list[str]) -> list[list[str]]:
        wanted = attrs.get(".proplist")
        keep = set(wanted.split(",")) if wanted else None
        out = []
        for row in rows:
            if matches(row, queries):
                out.append(
                    [
                        "!re",
                        *(f"={k}={_fmt(v)}" for k, v in row.items() if keep is None or k in keep),
                    ]
                )
        return [*out, ["!done"]]


def matches(row: dict, queries: list[str]) -> bool:
    """RouterOS's query stack: each condition pushes a truth, ?# operators combine them,
    and the row matches when everything left on the stack is true."""
    stack: list[bool] = []
    for query in queries:
        if query.startswith("#"):
            for op in query[1:]:
                if op == "!":
                    stack.append(not stack.pop())
                elif op in "|&":
                    right, left = stack.pop(), stack.pop()
                    stack.append(left or right if op == "|" else left and right)
            continue
        if query.startswith("-"):
            stack.append(query[1:] not in row)
            continue
        kind = query[0] if query[0] in "=<>" else ""
        name, sep, value = query[len(kind) :].partition("=")
        if not sep:
            stack.append(name in row)
        elif name not in row:
            stack.append(False)
        else:
            have = _fmt(row[name])
            if kind == "<":
                stack.append(_number(have) < _number(value))
            elif kind == ">":
                stack.append(_number(have) > _number(value))
            else:
                stack.append(have == value)
    return all(stack)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return text


# --- the servers -------------------------------------------------------------------------


class ApiServer:
    """Accepts API connections, one thread each; can stop listening while "down"."""

    def __init__(self, router: Router, host: str, port: int, tls: ssl.SSLContext | None):
        self.router, self.host, self.port, self.tls = router, host, port, tls
        self.listener: socket.socket | None = None
        self.changed = threading.Event()

    def run(self) -> None:
        while True:
            if self.router.knobs["down"]:
                self.changed.wait(0.05)
                self.changed.clear()
                continue
            self.listen()
            while not self.router.knobs["down"]:
                try:
                    sock, _ = self.listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break  # closed by going down
                threading.Thread(target=self.serve, args=(sock,), daemon=True).start()
            self.listener.close()

    def go_down(self) -> None:
        """Stop listening now: from here on, connecting is refused."""
        self.router.knobs["down"] = True
        if self.listener is not None:
            with contextlib.suppress(OSError):  # shutdown wakes accept() and stops listening
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()

    def listen(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((self.host, self.port))
        self.listener.listen(64)
        self.listener.settimeout(0.1)  # notice "down" soon

    def serve(self, sock: socket.socket) -> None:
        with self.router.lock:
            self.router.counts["connections"] += 1
        if self.router.take("refuse_next"):
            with self.router.lock:
                self.router.counts["refused"] += 1
            sock.close()
            return
        sock.settimeout(None)
        if self.tls:
            try:
                sock = self.tls.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                sock.close()
                return
        Connection(self.router, sock).serve()


def control_handler(router: Router, server: ApiServer):
    class Control(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            log.debug(format, *args)

        def do_GET(self):
            if self.path != "/state":
                return self.reply(404, {"error": "not found"})
            with router.lock:
                return self.reply(
                    200,
                    {
                        "knobs": router.knobs,
                        "counts": router.counts,
                        "users": list(router.users.rows.values()),
                        "profiles": list(router.profiles.rows.values()),
                        "active": list(router.active.rows.values()),
                    },
                )

        def do_POST(self):
            body = json.loads(
                self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"
            )
            with router.lock:
                if self.path == "/config":
                    unknown = set(body) - set(KNOBS)
                    if unknown:
                        return self.reply(400, {"error": f"unknown knobs {sorted(unknown)}"})
                    router.knobs.update(body)
                    if body.get("down"):
                        server.go_down()
                    server.changed.set()
                    return self.reply(200, router.knobs)
                if self.path == "/sessions":
                    item_id = router.active.add({"user": body["user"]})
                    return self.reply(200, {".id": item_id})
                if self.path == "/reset":
                    router.reset()
                    return self.reply(200, {})
            return self.reply(404, {"error": "not found"})

        def reply(self, status: int, body: dict):
            data = json.dumps(body, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Control


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.routeros",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    env = os.environ.get
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(env("ROUTER_SIM_PORT", "8728")))
    parser.add_argument(
        "--control-port",
        type=int,
        default=0,
        help="HTTP port for knobs and state (default: API port + 1000).",
    )
    parser.add_argument("--username", default=env("ROUTER_SIM_USERNAME", "api"))
    parser.add_argument("--password", default=env("ROUTER_SIM_PASSWORD", "dev-router"))
    parser.add_argument("--identity", default="conveyor-sim")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.005,
        help="Seconds before each reply (default 0.005: a router on the LAN).",
    )
    parser.add_argument("--tls-cert", help="Serve api-ssl with this certificate (PEM).")
    parser.add_argument("--tls-key", help="The certificate's key (PEM).")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    router = Router(args.username, args.password, args.identity)
    router.knobs["latency"] = args.latency
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    api = ApiServer(router, args.host, args.port, tls)
    control_port = args.control_port or args.port + 1000
    control = ThreadingHTTPServer((args.host, control_port), control_handler(router, api))
    threading.Thread(target=control.serve_forever, daemon=True).start()
    log.info(
        "routeros simulator on %s:%s (%s), control on http://%s:%s",
        args.host,
        args.port,
        "api-ssl" if tls else "api",
        args.host,
        control_port,
    )
    with contextlib.suppress(KeyboardInterrupt):
        api.run()


if __name__ == "__main__":
    main()
