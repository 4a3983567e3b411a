"""How the shared Task class turns the queue table into a task's policy."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config import queues
from config.celery import app
from tasks.base import Task
from tasks.default import ping


@given(st.sampled_from(queues.QUEUES), st.integers(min_value=1, max_value=50))
def test_backoff_follows_the_schedule_and_repeats_its_last_value(policy, retry):
    delay = queues.backoff_delay(policy.backoff, retry)
    if retry <= len(policy.backoff):
        assert delay == policy.backoff[retry - 1]
    else:
        assert delay == policy.backoff[-1]
    assert delay >= queues.backoff_delay(policy.backoff, max(1, retry - 1))


@given(st.integers(min_value=1, max_value=10))
def test_the_countdown_is_the_backoff_stretched_by_jitter_only(retry):
    base = queues.backoff_delay(ping.backoff, retry)
    countdown = ping.retry_countdown(retry)
    assert base <= countdown <= base * (1 + queues.BACKOFF_JITTER)


def test_jitter_spreads_retries():
    assert len({round(ping.retry_countdown(1), 6) for _ in range(20)}) > 1


def test_a_task_may_narrow_its_queues_policy():
    @app.task(
        name="tasks.payments.narrow_probe",
        attempts=5,
        backoff=(1, 2),
        time_limit=7,
        soft_time_limit=6,
    )
    def narrow():
        """Only here to be inspected."""

    try:
        assert narrow.policy == queues.policy("payments")
        assert (narrow.attempts, narrow.max_retries, narrow.backoff) == (5, 4, (1, 2))
        assert (narrow.time_limit, narrow.soft_time_limit) == (7, 6)
    finally:
        app.tasks.unregister("tasks.payments.narrow_probe")


def test_celerys_own_tasks_keep_celerys_defaults():
    builtin = app.tasks["celery.backend_cleanup"]
    assert isinstance(builtin, Task)
    assert builtin.policy is None


@pytest.mark.parametrize("error", ["TransientError", "SoftTimeLimitExceeded", "OperationalError"])
def test_what_counts_as_transient(error):
    assert error in {e.__name__ for e in Task.transient_errors}
