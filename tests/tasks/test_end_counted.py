"""A job whose work is done but whose end the database did not count is retried to count its
end only: its work is not done again, and its batch still finishes with every job counted."""

import pytest
from django.db import connection

from apps.ops.batches import batch_dispatch
from apps.ops.models import Batch, BatchJob
from devstack.processes import wait_for
from tests.support import probes

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL (the job ends its own database session); CI runs it there",
    ),
]


def test_a_job_whose_end_was_not_counted_counts_it_on_retry_without_running_again(
    worker, empty_queues, redis_client, key
):
    jobs = [probes.batch_job_losing_db.si(key, 0), probes.batch_job.si(key, 1)]
    batch = batch_dispatch(name="lossy", jobs=jobs, finally_=probes.callback.si(key, "finally"))

    wait_for(
        lambda: Batch.objects.filter(pk=batch.pk, finished_at__isnull=False).exists(),
        timeout=60,
        what="the batch to finish",
    )
    batch.refresh_from_db()
    assert (batch.total, batch.pending, batch.failed) == (2, 0, 0)
    assert set(BatchJob.objects.filter(batch=batch).values_list("state", flat=True)) == {
        BatchJob.State.SUCCEEDED
    }
    assert sorted(redis_client.lrange(f"{key}:ran", 0, -1)) == ["0", "1"]  # each ran once
    # The retry logs its count after the commit that finished the batch: wait for the line.
    wait_for(lambda: "task.end_counted" in worker.log(), what="the retry to log the end it counted")
    assert "task.end_not_counted" in worker.log()
    ran = wait_for(lambda: redis_client.lrange(f"{key}:finally", 0, -1), what="finally")
    assert ran == [str(batch.pk)]
