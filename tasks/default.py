"""The default queue: assignment, reports, housekeeping. Pool and policy: config/queues.py."""

from config.celery import app


@app.task(bind=True, ignore_result=False)
def ping(self) -> str:
    """Sent by `manage.py queue_ping` to any queue; answers with the worker name (no effects)."""
    return self.request.hostname
