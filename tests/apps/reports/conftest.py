import pytest

from tests.apps.notifications.conftest import smtp, smtp_server  # noqa: F401 - fixtures
from tests.support.workers import ProbeWorker

# Where a ready mail goes: the documents worker hands document_ready to the notifications
# queue, whose listener writes the mail the emails queue sends.
QUEUES = ["documents", "notifications", "emails"]


@pytest.fixture
def documents_worker(tmp_path, smtp, empty_queues):  # noqa: F811
    """A real worker for the documents queue and the queues its ready mail crosses."""

    def start(**env: str) -> ProbeWorker:
        worker = ProbeWorker(tmp_path, queue_names=QUEUES, env={**smtp.env(), **env}).start()
        started.append(worker)
        return worker

    started: list[ProbeWorker] = []
    yield start
    for worker in started:
        worker.stop()
