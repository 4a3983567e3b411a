"""SMS backends, chosen by SMS_BACKEND as Django chooses EMAIL_BACKEND.

Each has ``provider`` (the pacing bucket's name) and ``send(to, message, sender)``, which
returns Accepted or Refused or raises NotSent / Ambiguous (apps/notifications/outcomes.py).
"""

import json
import logging
import sys
import threading
import uuid
from pathlib import Path

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from urllib3.exceptions import NewConnectionError

from apps.notifications.outcomes import Accepted, Ambiguous, NotSent, Refused

log = logging.getLogger("conveyor.notifications.sms")

# Africa's Talking's per-recipient codes (EXTERNAL-FORMATS.md §6.1).
ACCEPTED_CODES = {100, 101, 102}
GATEWAY_CODES = {500, 501, 502}  # the gateway's own trouble: nothing went out, try again
# HTTP answers that say the request was not taken: busy, throttled, or timed out waiting for
# it. Any other 5xx may come from a proxy after the gateway took the message: ambiguous.
NOT_TAKEN = {408, 429, 503}
BEFORE_SENDING = (
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
)


def backend_class() -> type:
    try:
        return import_string(settings.SMS_BACKEND)
    except ImportError as exc:
        raise ImproperlyConfigured(f"SMS_BACKEND={settings.SMS_BACKEND!r}: {exc}") from exc


def backend():
    return backend_class()()


class ConsoleBackend:
    """Prints each message: development without a gateway."""

    provider = "console"

    def send(self, *, to: str, message: str, sender: str) -> Accepted:
        sys.stdout.write(f"SMS to {to} from {sender or '-'}: {message}\n")
        sys.stdout.flush()
        return Accepted(provider_id=f"console-{uuid.uuid4().hex}")


class FileBackend:
    """Appends each message as a JSON line to SMS_FILE_PATH/sms.jsonl."""

    provider = "file"
    _lock = threading.Lock()

    def send(self, *, to: str, message: str, sender: str) -> Accepted:
        if not settings.SMS_FILE_PATH:
            raise NotSent("SMS_FILE_PATH is not set", permanent=True)
        path = Path(settings.SMS_FILE_PATH) / "sms.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        provider_id = f"file-{uuid.uuid4().hex}"
        line = json.dumps({"id": provider_id, "to": to, "from": sender, "message": message})
        with self._lock, path.open("a") as out:
            out.write(line + "\n")
        return Accepted(provider_id=provider_id)


class AfricasTalkingBackend:
    """Africa's Talking's messaging API: POST /version1/messaging, one recipient per call."""

    provider = "africastalking"

    def __init__(self):
        if not settings.AFRICASTALKING_API_KEY:
            raise ImproperlyConfigured("Set AFRICASTALKING_API_KEY to send SMS.")
        self.url = settings.AFRICASTALKING_BASE_URL.rstrip("/") + "/version1/messaging"

    def send(self, *, to: str, message: str, sender: str) -> Accepted | Refused:
        data = {"username": settings.AFRICASTALKING_USERNAME, "to": to, "message": message}
        if sender:
            data["from"] = sender
        headers = {"apiKey": settings.AFRICASTALKING_API_KEY, "Accept": "application/json"}
        timeout = (settings.SMS_CONNECT_TIMEOUT, settings.SMS_READ_TIMEOUT)
        try:
            answer = requests.post(self.url, data=data, headers=headers, timeout=timeout)
        except BEFORE_SENDING as exc:  # a URL or header requests refuses to send
            raise NotSent(f"the request cannot be made: {exc}", permanent=True) from exc
        except requests.ConnectTimeout as exc:
            raise NotSent(f"no connection to the gateway: {exc}") from exc
        except requests.ConnectionError as exc:
            if _refused_connection(exc):
                raise NotSent(f"no connection to the gateway: {exc}") from exc
            raise Ambiguous(f"the connection broke after the request: {exc}") from exc
        except requests.RequestException as exc:  # ReadTimeout included
            raise Ambiguous(f"no answer after the request was sent: {exc}") from exc
        return _outcome(answer, to)


def _refused_connection(exc: requests.ConnectionError) -> bool:
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _outcome(answer: requests.Response, to: str) -> Accepted | Refused:
    if answer.status_code == 401:
        raise NotSent(f"the gateway refused the API key: {answer.text[:200]}", permanent=True)
    if answer.status_code in NOT_TAKEN:
        raise NotSent(f"the gateway answered {answer.status_code}: {answer.text[:200]}")
    if answer.status_code >= 500:
        raise Ambiguous(f"the gateway answered {answer.status_code}: {answer.text[:200]}")
    if answer.status_code not in (200, 201):
        raise NotSent(
            f"the gateway answered {answer.status_code}: {answer.text[:200]}", permanent=True
        )
    try:
        recipients = answer.json()["SMSMessageData"]["Recipients"]
        mine = next(r for r in recipients if r.get("number") == to)
        code = int(mine["statusCode"])
    except (ValueError, KeyError, TypeError, StopIteration) as exc:
        raise Ambiguous(f"an answer we cannot read: {answer.text[:200]}") from exc
    if code in ACCEPTED_CODES:
        return Accepted(provider_id=str(mine.get("messageId", "")), cost=str(mine.get("cost", "")))
    if code in GATEWAY_CODES:
        raise NotSent(f"the gateway could not take it: {code} {mine.get('status', '')}")
    return Refused(reason=str(mine.get("status") or code), detail=f"statusCode {code}")
