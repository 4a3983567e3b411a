"""The run log in the suite's Redis: search by task, tag, id and outcome, paging, the prune,
the history's TTL, and the JSON endpoints' answers to bad input and to a Redis away."""

import time
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from apps.ops import runs
from tests.support.probes import flaky, unlogged


def _record(task_id: str, *, task: str, outcome: str = "succeeded", attempt: int = 1, tags=()):
    runs.run_record(
        task_id=task_id,
        task=task,
        queue="payments",
        attempt=attempt,
        attempts=3,
        worker="payments@host",
        wait=0.002,
        runtime=0.01,
        outcome=outcome,
        error="" if outcome == "succeeded" else "TransientError: " + "x" * 2000,
        tags=list(tags),
    )


@pytest.fixture
def ns() -> str:
    """A task-name part and tag value nobody else records."""
    return uuid.uuid4().hex[:10]


def _ids(answer: dict) -> list[str]:
    return [job["id"] for job in answer["jobs"]]


def test_search_by_task_tag_id_and_outcome_newest_first(ns):
    task = f"tasks.payments.fulfil_{ns}"
    _record("a-" + ns, task=task, outcome="retried", tags=[f"payment:{ns}"])
    _record("a-" + ns, task=task, attempt=2, tags=[f"payment:{ns}"])
    _record("b-" + ns, task=task, outcome="failed", tags=[f"member:{ns}"])
    _record("c-" + ns, task=f"tasks.other_{ns}", tags=[f"payment:{ns}"])

    assert _ids(runs.jobs_recent(task=task)) == ["b-" + ns, "a-" + ns]  # exact name
    assert _ids(runs.jobs_recent(task=ns)) == ["c-" + ns, "b-" + ns, "a-" + ns]  # a part
    assert _ids(runs.jobs_recent(tag=f"payment:{ns}")) == ["c-" + ns, "a-" + ns]
    assert _ids(runs.jobs_recent(tag=f"payment:{ns}", task=task)) == ["a-" + ns]
    assert _ids(runs.jobs_recent(task=ns, outcome="failed")) == ["b-" + ns]
    assert _ids(runs.jobs_recent(task=ns, outcome="retried")) == ["a-" + ns]
    assert _ids(runs.jobs_recent(task_id="a-" + ns)) == ["a-" + ns]
    assert _ids(runs.jobs_recent(task_id="a-" + ns, outcome="failed")) == []
    assert _ids(runs.jobs_recent(task_id="nobody-" + ns)) == []

    job = runs.job_get(task_id="a-" + ns)
    assert (job["attempt"], job["attempts"], job["outcome"]) == (2, 3, "succeeded")
    assert [(r["attempt"], r["outcome"]) for r in job["runs"]] == [(1, "retried"), (2, "succeeded")]
    assert len(job["runs"][0]["error"]) == runs.ERROR_CHARS  # capped
    failed = runs.job_get(task_id="b-" + ns)
    assert failed["error"].startswith("TransientError: ")


def test_pages_follow_the_cursor(ns):
    task = f"tasks.paged_{ns}"
    for n in range(5):
        _record(f"{n}-{ns}", task=task)
    first = runs.jobs_recent(task=task, limit=2)
    second = runs.jobs_recent(task=task, limit=2, before=first["next"])
    third = runs.jobs_recent(task=task, limit=2, before=second["next"])
    assert [_ids(first), _ids(second), _ids(third)] == [
        [f"4-{ns}", f"3-{ns}"],
        [f"2-{ns}", f"1-{ns}"],
        [f"0-{ns}"],
    ]
    assert third["next"] is None


@pytest.mark.django_db
def test_a_timeline_merges_entities_in_order(ns, staff_client):
    payment, subscription = f"payment:{ns}", f"subscription:{ns}"
    _record("push-" + ns, task="tasks.payments.request_stk_push", tags=[payment])
    _record("fulfil-" + ns, task="tasks.payments.fulfil_payment", tags=[payment])
    _record("provision-" + ns, task="tasks.provisioning.provision", tags=[subscription])
    _record("push-" + ns, task="tasks.payments.request_stk_push", attempt=2, tags=[payment])

    only = runs.timeline(tags=[payment])["runs"]
    assert [(r["task_id"], r["attempt"]) for r in only] == [
        ("push-" + ns, 1),
        ("fulfil-" + ns, 1),
        ("push-" + ns, 2),
    ]
    response = staff_client.get(f"/admin/ops/timeline/data/?tag={payment}+{subscription}")
    assert [r["task_id"] for r in response.json()["runs"]] == [
        "push-" + ns,
        "fulfil-" + ns,
        "provision-" + ns,
        "push-" + ns,
    ]


def test_records_expire_with_the_history(redis_client, ns, settings):
    settings.RUN_HISTORY_DAYS = 2
    _record("t-" + ns, task=f"tasks.ttl_{ns}", tags=[f"payment:{ns}"])
    for key in (f"runs:job:t-{ns}", f"runs:tag:payment:{ns}"):
        assert 2 * 86_400 - 5 < redis_client.ttl(key) <= 2 * 86_400


def test_prune_forgets_jobs_older_than_the_history_everywhere(redis_client, ns):
    old, new = "old-" + ns, "new-" + ns
    task, tag = f"tasks.pruned_{ns}", f"payment:{ns}"
    _record(old, task=task, outcome="failed", tags=[tag])
    between = time.time()
    _record(new, task=task, outcome="failed", tags=[tag])

    assert runs.runs_prune(before=between) >= 1
    assert runs.job_get(task_id=old) is None
    for index in ("runs:recent", f"runs:task:{task}", "runs:outcome:failed", f"runs:tag:{tag}"):
        assert redis_client.zscore(index, old) is None, index
        assert redis_client.zscore(index, new) is not None, index
    assert _ids(runs.jobs_recent(tag=tag)) == [new]
    assert [r["task_id"] for r in runs.timeline(tags=[tag])["runs"]] == [new]

    # The default keeps RUN_HISTORY_DAYS: a job of a moment ago stays.
    out = StringIO()
    call_command("queue_prune_runs", "--json", stdout=out)
    assert '"pruned"' in out.getvalue()
    assert runs.job_get(task_id=new) is not None


def test_a_task_may_stay_out_of_the_run_log(ns, key):
    shown = flaky.apply(kwargs={"key": key, "payment_id": ns, "failures": 0})
    hidden = unlogged.apply(kwargs={"payment_id": ns})
    assert runs.job_get(task_id=shown.id)["tags"] == [f"payment:{ns}"]
    assert runs.job_get(task_id=hidden.id) is None


def test_recording_never_fails_a_task_when_redis_is_away(settings, ns, caplog):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # nothing listens there
    _record("away-" + ns, task="tasks.away")
    assert "run.unrecorded runs=1" in caplog.text


@pytest.mark.django_db
def test_the_data_answers_bad_input_with_400(staff_client):
    bad = [
        "jobs/data/?outcome=exploded",
        "jobs/data/?tag=no-colon",
        "jobs/data/?tag=payment:",
        "jobs/data/?task=a%20b",
        "jobs/data/?id=" + "x" * 300,
        "jobs/data/?before=yesterday",
        "jobs/data/?before=nan",
        "jobs/data/?before=-1",
        "jobs/data/?limit=0",
        "jobs/data/?limit=5000",
        "jobs/data/?limit=ten",
        "timeline/data/",
        "timeline/data/?tag=payment%205",
        "timeline/data/?tag=" + "+".join(f"payment:{n}" for n in range(11)),
    ]
    for path in bad:
        response = staff_client.get(f"/admin/ops/{path}")
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] == "bad_input", path
        assert response.json()["error"]["message"], path
    assert staff_client.get("/admin/ops/jobs/data/?outcome=retried&limit=5").status_code == 200
    assert staff_client.get("/admin/ops/timeline/data/?tag=payment:5").status_code == 200


@pytest.mark.django_db
def test_the_pages_and_data_are_for_staff_only(staff_client, settings):
    assert Client().get("/admin/ops/jobs/data/").status_code == 401
    assert Client().get("/admin/ops/timeline/data/?tag=payment:5").status_code == 401
    assert Client().get("/admin/ops/jobs/").status_code == 302  # to the login
    assert staff_client.get("/admin/ops/jobs/?tag=payment:5").status_code == 200
    assert staff_client.get("/admin/ops/timeline/?tag=payment:5").status_code == 200
    assert staff_client.get("/admin/ops/timeline/").status_code == 200  # asks for a tag

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    response = staff_client.get("/admin/ops/jobs/data/")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "redis_unavailable"


def test_prune_keeps_at_most_the_newest_max_jobs(redis_client, ns, settings):
    tag = f"payment:{ns}"
    ids = [f"cap{n}-{ns}" for n in range(5)]
    runs.runs_prune(before=time.time())  # only this test's jobs in the log
    for job in ids:
        _record(job, task=f"tasks.capped_{ns}", tags=[tag])
    settings.RUN_HISTORY_MAX_JOBS = 3

    assert runs.runs_prune() == 2
    assert [runs.job_get(task_id=j) is None for j in ids] == [True, True, False, False, False]
    assert _ids(runs.jobs_recent(tag=tag)) == ids[:1:-1]
