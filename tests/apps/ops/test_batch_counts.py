"""A batch's counts as jobs report their ends, on either database: PostgreSQL counts an end
that decides nothing in one statement, every other end in the transaction that decides."""

import pytest

from apps.ops.batches import batch_cancel, batch_cancelled, batch_dispatch, batch_job_finished
from apps.ops.models import Batch, BatchJob
from tests.support import probes

pytestmark = pytest.mark.django_db

State = BatchJob.State


def dispatched(n: int, **options) -> tuple[Batch, list[dict]]:
    batch = batch_dispatch(
        jobs=[probes.batch_job.si("counts", i) for i in range(n)],
        then=probes.callback.si("counts", "then"),
        catch=probes.callback.si("counts", "catch"),
        finally_=probes.callback.si("counts", "finally"),
        **options,
    )
    ids = BatchJob.objects.filter(batch=batch).order_by("id").values_list("job_id", flat=True)
    return batch, [{"id": str(batch.pk), "job": job_id} for job_id in ids]


def test_each_end_is_counted_once_and_the_last_decides_once():
    batch, jobs = dispatched(3)
    for header in [jobs[0], jobs[0], jobs[1]]:  # a repeated report counts nothing
        batch_job_finished(header, state=State.SUCCEEDED)
    batch.refresh_from_db()
    assert (batch.pending, batch.failed, batch.fired, batch.finished_at) == (1, 0, [], None)

    batch_job_finished(jobs[2], state=State.SUCCEEDED)
    batch_job_finished(jobs[2], state=State.SUCCEEDED)
    batch.refresh_from_db()
    assert (batch.pending, batch.fired, batch.unsent) == (
        0,
        ["finally", "then"],
        ["finally", "then"],
    )
    assert batch.finished_at is not None
    assert set(BatchJob.objects.values_list("state", flat=True)) == {State.SUCCEEDED}


def test_a_failure_retried_to_success_leaves_the_failed_and_then_fires():
    batch, jobs = dispatched(3, allow_failures=True)
    batch_job_finished(jobs[0], state=State.FAILED)
    batch_job_finished(jobs[0], state=State.FAILED)  # retried, failed again
    batch_job_finished(jobs[1], state=State.SUCCEEDED)
    batch.refresh_from_db()
    assert (batch.pending, batch.failed, batch.failed_job_ids) == (1, 1, [jobs[0]["job"]])
    assert (batch.fired, batch.cancelled_at) == (["catch"], None)

    batch_job_finished(jobs[2], state=State.SUCCEEDED)
    batch.refresh_from_db()
    assert (batch.pending, batch.fired) == (0, ["catch", "finally"])

    batch_job_finished(jobs[0], state=State.SUCCEEDED)  # the failed job, retried
    batch.refresh_from_db()
    assert (batch.pending, batch.failed, batch.failed_job_ids) == (0, 0, [])
    assert batch.fired == ["catch", "finally", "then"]


def test_skipped_jobs_of_a_cancelled_batch_count_but_then_never_fires():
    batch, jobs = dispatched(3)
    assert not batch_cancelled(jobs[0])
    batch_job_finished(jobs[0], state=State.SUCCEEDED)
    batch_cancel(batch_id=batch.pk)
    assert batch_cancelled(jobs[0])
    for header in jobs[1:]:
        batch_job_finished(header, state=State.SKIPPED)
    batch.refresh_from_db()
    assert (batch.pending, batch.failed, batch.fired) == (0, 0, ["finally"])
    states = sorted(BatchJob.objects.values_list("state", flat=True))
    assert states == [State.SKIPPED, State.SKIPPED, State.SUCCEEDED]


def test_an_end_reported_for_a_pruned_batch_counts_nothing():
    batch, jobs = dispatched(2)
    Batch.objects.filter(pk=batch.pk).delete()
    batch_job_finished(jobs[0], state=State.SUCCEEDED)
    assert not batch_cancelled(jobs[0])
    assert not Batch.objects.exists()
