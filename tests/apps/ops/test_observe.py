"""Run records gathered by a worker process and sent together (one script call for many)
land as the same writes as records sent one at a time: metrics and run log alike."""

import uuid

from apps.ops import metrics, observe, runs


def writes(queue: str, task: str, task_id: str, outcome: str):
    seen = metrics.metric_writes(queue=queue, task=task, outcome=outcome, runtime=0.02, wait=0.3)
    run = runs.run_writes(
        task_id=task_id,
        task=task,
        queue=queue,
        attempt=1,
        attempts=3,
        worker="w@h",
        wait=0.3,
        runtime=0.02,
        outcome=outcome,
        tags=[f"payment:{task_id}"],
    )
    return seen, run


def test_gathered_records_sent_together_are_the_writes_of_each(redis_client, clean_metrics):
    ns = uuid.uuid4().hex[:8]
    alone, together = f"tasks.alone_{ns}", f"tasks.together_{ns}"
    gathered = []
    for task in (alone, together):
        for n, outcome in enumerate(("succeeded", "succeeded", "failed")):
            seen, run = writes("emails", task, f"{task}-{n}", outcome)
            if task == alone:
                observe.record(metrics=seen, run=run)
            else:
                gathered.append(observe._call(seen, run))
    observe._send(gathered)  # what the sender thread does: the three in one call

    counts = metrics.counts()
    for task in (alone, together):
        assert counts[("emails", task, "succeeded")] == 2
        assert counts[("emails", task, "failed")] == 1
        hist = metrics.histograms("runtime")[("emails", task)]
        assert hist["count"] == 3 and abs(hist["sum"] - 0.06) < 1e-9
        job = runs.job_get(task_id=f"{task}-2")
        assert (job["outcome"], job["attempt"], job["tags"]) == ("failed", 1, [f"payment:{task}-2"])
        assert [j["id"] for j in runs.jobs_recent(task=task)["jobs"]] == [
            f"{task}-2",
            f"{task}-1",
            f"{task}-0",
        ]
    kept = [redis_client.ttl(f"runs:job:{task}-0") for task in (alone, together)]
    assert abs(kept[0] - kept[1]) <= 2
