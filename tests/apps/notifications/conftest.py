import base64
import json

import pytest
from django.conf import settings

from tests.support.sms_sim import SmsSim

AT_BACKEND = "apps.notifications.sms.AfricasTalkingBackend"


@pytest.fixture(scope="module")
def sms_sim(tmp_path_factory) -> SmsSim:
    """The Africa's Talking simulator over HTTP, with the test settings' key and username."""
    sim = SmsSim(tmp_path_factory.mktemp("sms") / "sms.log").start()
    yield sim
    sim.stop()


@pytest.fixture
def gateway(sms_sim, settings):
    """This process sends SMS through the simulator, reset for the test."""
    sms_sim.reset()
    settings.SMS_BACKEND = AT_BACKEND
    settings.AFRICASTALKING_BASE_URL = sms_sim.url
    return sms_sim


def at_env(sim: SmsSim, **extra) -> dict:
    """A worker's environment for sending through ``sim``."""
    return {
        "SMS_BACKEND": AT_BACKEND,
        "AFRICASTALKING_BASE_URL": sim.url,
        "AFRICASTALKING_API_KEY": settings.AFRICASTALKING_API_KEY,
        **extra,
    }


@pytest.fixture(scope="module")
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free port, for one test module."""
    from tests.support.smtp import SmtpServer

    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server, settings):
    """This process mails through the SMTP server, emptied for the test."""
    smtp_server.reset()
    for name, value in smtp_server.env().items():
        setattr(settings, name, int(value) if name == "EMAIL_PORT" else value)
    return smtp_server


@pytest.fixture
def queued(redis_client, empty_queues):
    """The tasks waiting in the delivery queues: [(queue, task name, kwargs)], and with
    ``batch=True`` each one's batch header and task id too."""

    def read(batch: bool = False) -> list[tuple]:
        out = []
        for queue in ("notifications", "emails"):
            for raw in redis_client.lrange(queue, 0, -1):
                message = json.loads(raw)
                headers = message["headers"]
                _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
                out.append((queue, headers["task"], kwargs))
                if batch:
                    out[-1] += (headers.get("batch"), headers["id"])
        return out

    return read
