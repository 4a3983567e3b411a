"""A real SMTP server for the mail tests (aiosmtpd, on a free port in a thread of the test
process), holding what it received, with knobs to defer or refuse."""

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from devstack.processes import free_port, wait_for


class _Handler:
    def __init__(self):
        self.lock = threading.Lock()
        self.received: list[EmailMessage] = []
        self.defer_next = 0  # answer the next DATA commands 451 (try again later)
        self.refused: set[str] = set()  # recipients answered 550

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.defer_next:
                self.defer_next -= 1
                return "451 4.3.0 Try again later"
            self.received.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self):
        self.handler = _Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def env(self) -> dict[str, str]:
        """A worker's environment for mailing through this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
        }

    def reset(self) -> None:
        with self.handler.lock:
            self.handler.received.clear()
            self.handler.defer_next = 0
            self.handler.refused.clear()

    @property
    def received(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.received)

    def wait_for(self, count: int, timeout: float = 20) -> list[EmailMessage]:
        return wait_for(
            lambda: len(m := self.received) >= count and m,
            timeout=timeout,
            what=f"{count} messages at the SMTP server",
        )
