"""The queue table, Celery's routing, the Task policy and the supervisor programs agree."""

import configparser
import json
import shlex
import time

import pytest
from django.conf import settings

from apps.ops.management.commands import up
from config import queues
from config.celery import PUBLISHED_AT, app
from config.env import BASE_DIR

PROGRAMS = BASE_DIR / "supervisor" / "programs"


def project_tasks() -> dict:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith("tasks.")}


def routed_queue(name: str) -> str:
    return app.amqp.router.route({}, name)["queue"].name


def worker_programs() -> dict[str, list[str]]:
    """Program name -> argv of every supervisor program that runs a Celery worker."""
    found = {}
    for path in sorted(PROGRAMS.glob("*.conf")):
        parser = configparser.RawConfigParser(inline_comment_prefixes=(";",))
        parser.read(path)
        for section in parser.sections():
            argv = shlex.split(parser[section]["command"])
            if argv[:4] == ["celery", "-A", "config", "worker"]:
                found[section] = (argv, parser[section])
    return found


def option(argv: list[str], name: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name:
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} missing from {argv}")


def test_there_are_project_tasks_to_check():
    assert "tasks.default.ping" in project_tasks()


def test_every_project_task_routes_to_its_modules_queue_in_the_table():
    for name in project_tasks():
        module_queue = name.split(".")[1]
        assert module_queue in queues.NAMES, f"{name} lives in a module with no queue"
        assert routed_queue(name) == module_queue


def test_celery_declares_exactly_the_table():
    assert [q.name for q in settings.CELERY_TASK_QUEUES] == list(queues.NAMES)
    assert tuple(f"tasks.{n}" for n in queues.NAMES) == settings.CELERY_IMPORTS
    assert app.conf.task_create_missing_queues is False
    assert app.conf.task_default_queue == queues.DEFAULT


def test_an_undeclared_queue_is_refused_not_created():
    with pytest.raises(Exception, match="nope"):
        app.send_task("tasks.default.ping", queue="nope")


def test_an_unknown_task_name_goes_to_default():
    assert routed_queue("somewhere.else") == queues.DEFAULT


def test_every_queue_has_one_supervisor_pool_consuming_exactly_it():
    programs = worker_programs()
    consumed = {}
    for section, (argv, conf) in programs.items():
        queue_list = option(argv, "-Q").split(",")
        assert len(queue_list) == 1, f"{section} consumes several queues: {queue_list}"
        consumed.setdefault(queue_list[0], []).append((section, argv, conf))
    assert sorted(consumed) == sorted(queues.NAMES), "a queue has no pool, or a pool no queue"
    for name, pools in consumed.items():
        assert len(pools) == 1, f"{name} has several pools"
        section, argv, conf = pools[0]
        policy = queues.policy(name)
        assert section == f"program:worker-{name}"
        assert option(argv, "-n") == f"{name}@%%h"
        assert option(argv, "--concurrency") == f"%(ENV_POOL_{name.upper()})s"
        # the table's, by default
        assert up.supervisor_environment()[f"POOL_{name.upper()}"] == str(policy.pool)
        assert option(argv, "--max-tasks-per-child") == "%(ENV_WORKER_MAX_TASKS_PER_CHILD)s"
        assert option(argv, "--max-memory-per-child") == "%(ENV_WORKER_MAX_MEMORY_KB)s"
        assert option(argv, "--prefetch-multiplier") == "1"
        assert int(conf["stopwaitsecs"]) > policy.hard_limit
        # TERM to the main process alone (a warm shutdown; TERM to the children kills their
        # tasks mid-run), KILL to the whole group once stopwaitsecs has passed.
        assert (conf["stopasgroup"], conf["killasgroup"]) == ("false", "true")


def test_the_workers_group_lists_every_pool():
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";",))
    parser.read(BASE_DIR / "supervisor" / "supervisord.conf")
    group = parser["group:workers"]["programs"].split(",")
    assert sorted(group) == sorted(f"worker-{n}" for n in queues.NAMES)


def test_each_project_task_carries_its_queues_policy():
    for name, task in project_tasks().items():
        policy = queues.policy(routed_queue(name))
        assert task.policy == policy
        assert task.attempts == policy.attempts
        assert task.max_retries == policy.attempts - 1
        assert task.time_limit == policy.hard_limit
        assert task.soft_time_limit == policy.soft_limit


def test_delivery_policy():
    conf = app.conf
    assert conf.accept_content == ["json"]
    assert conf.task_serializer == "json"
    assert conf.result_accept_content == ["json"]
    assert conf.task_ignore_result is True
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.worker_max_tasks_per_child > 0
    assert conf.worker_max_memory_per_child > 0


def test_visibility_timeout_outlasts_the_longest_run_and_retry_wait():
    longest_run = max(q.hard_limit for q in queues.QUEUES)
    longest_wait = max(max(q.backoff) for q in queues.QUEUES) * (1 + queues.BACKOFF_JITTER)
    timeout = app.conf.broker_transport_options["visibility_timeout"]
    assert timeout > longest_run + longest_wait


def test_published_messages_carry_their_publish_time(redis_client, empty_queues):
    before = time.time()
    app.send_task("tasks.default.ping", queue="maturation")
    raw = redis_client.lindex("maturation", -1)
    headers = json.loads(raw)["headers"]
    assert before <= headers[PUBLISHED_AT] <= time.time()


def test_the_suite_talks_to_its_own_broker():
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.broker_url != "redis://127.0.0.1:6379/0"


def test_the_suite_runs_on_the_test_settings():
    assert settings.SETTINGS_MODULE == "config.settings.test"
