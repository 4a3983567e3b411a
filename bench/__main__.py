"""Run the benchmarks against a private redis-server and real workers; print one table and
write it, with the machine it ran on, to bench/results/<timestamp>.{md,json}."""

import argparse
import contextlib
import json
import logging
import os
import platform
import tempfile
from datetime import datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
UNPACED_SMS_RATE = "1000/1"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--batch", type=int, default=2000, help="Tasks per round.")
    parser.add_argument("--rounds", type=int, default=5, help="Rounds per task class.")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[10, 25, 50, 75],
        help="Purchases/s offered, comma-separated (default 10,25,50,75).",
    )
    parser.add_argument("--seconds", type=float, default=60, help="Length of each rate's run.")
    parser.add_argument("--ingest-count", type=int, default=2000, help="Callbacks per target.")
    parser.add_argument(
        "--shape",
        type=lambda text: dict(item.split("=", 1) for item in text.split(",")),
        default={},
        help="Process counts for the product and the floor alike, e.g. "
        "WEB_CONCURRENCY=3,POOL_PAYMENTS=2 (default: as `make up` has them).",
    )
    parser.add_argument("--ledger-rows", type=int, default=1_000_000, help="Rows to sweep.")
    parser.add_argument("--members", type=int, default=100_000, help="Wallets they go to.")
    parser.add_argument(
        "--report-rows", type=int, default=1_000_000, help="Ledger rows a report exports."
    )
    parser.add_argument(
        "--notify-members", type=int, default=20_000, help="Members a broadcast goes to."
    )
    parser.add_argument(
        "--notify-sms-share", type=float, default=0.05, help="Share of them who chose SMS."
    )
    parser.add_argument(
        "--notify-rate", default="50/1", help="SMS_RATE (COUNT/SECONDS) of the bucket test."
    )
    parser.add_argument(
        "--notify-count", type=int, default=500, help="SMS notices of the bucket test."
    )
    parser.add_argument(
        "--import-members", type=int, default=100_000, help="Rows of the imported file."
    )
    parser.add_argument(
        "--only",
        choices=["queue", "workflows", "notify", "stack", "documents", "money", "imports"],
        help="Run one part (default: all).",
    )
    args = parser.parse_args()
    if args.notify_count > args.notify_members:
        parser.error("--notify-count is at most --notify-members")

    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    from devstack.processes import LocalRedis

    server = LocalRedis(workdir / "redis").start()
    database = bench_database(workdir)
    os.environ.update(
        REDIS_URL=server.url,
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DJANGO_DEBUG="false",  # as in production: DEBUG keeps and times every query
        DJANGO_READ_DOT_ENV_FILE="false",
        VAR_DIR=str(workdir / "var"),
        DATABASE_URL=database,
    )
    import django

    django.setup()
    # This process builds rows with the services (provisioning's batch): their INFO lines
    # would bury the table. The stack and the workers keep the shipped level.
    logging.getLogger("conveyor").setLevel(logging.WARNING)
    from bench import money

    rows, tables = [], ""
    if args.only in (None, "queue", "workflows"):
        rows += _queue_overhead(args, workdir, server, only=args.only)
    if args.only in (None, "notify"):
        rows += _notifications(args, workdir)
    if args.only in (None, "documents"):
        from bench import documents

        rows += documents.run(workdir, args.report_rows, members=1000)
    if args.only in (None, "imports"):
        rows += _imports(args, workdir)
    server.stop()
    if args.only in (None, "stack"):
        stack_rows, tables = _stack(args, workdir, database)
        rows += stack_rows
    if args.only in (None, "money"):
        rows += money.run(args.ledger_rows, args.members)
    rows.append(
        {
            "measure": "database",
            "value": database.split(":", 1)[0],
            "setup": "PostgreSQL when one answers (BENCH_DATABASE_URL), else SQLite",
        }
    )
    report(rows, tables)


def _queue_overhead(args, workdir: Path, server, only: str | None) -> list[dict]:
    """The no-op throughput of our Task against Celery's, and batch bookkeeping's cost, on one
    worker of the default queue."""
    import redis

    from bench import queue_overhead, workflows
    from config import queues
    from devstack.processes import WorkerProcess

    worker = WorkerProcess(
        "bench@conveyor",
        [queues.DEFAULT],
        workdir / "worker.log",
        concurrency=queues.policy(queues.DEFAULT).pool,
        include="bench.tasks",
    )
    try:
        worker.start()
        client = redis.Redis.from_url(server.url, socket_timeout=None)  # BLPOP waits long
        rows = []
        if only in (None, "queue"):
            rows += queue_overhead.run(worker, client, args.batch, args.rounds)
        if only in (None, "workflows"):
            rows += workflows.run(worker, client, args.batch, args.rounds)
        return rows
    finally:
        worker.stop()


def _notifications(args, workdir: Path) -> list[dict]:
    from bench import notifications

    return notifications.run(
        database=bench_database(workdir, "conveyor_bench_notify"),
        workdir=workdir,
        members=args.notify_members,
        sms_share=args.notify_sms_share,
        rate=args.notify_rate,
        count=args.notify_count,
    )


def _imports(args, workdir: Path) -> list[dict]:
    from bench import imports

    return imports.run(
        database=bench_database(workdir, "conveyor_bench_imports"),
        workdir=workdir,
        members=args.import_members,
    )


def _stack(args, workdir: Path, database: str) -> tuple[list[dict], str]:
    """Purchases, ingest and provisioning against the whole stack, the floor beside it."""
    if not database.startswith("postgres"):
        print("The purchase and ingest figures need PostgreSQL (the floor reads it): skipped.")
        return [], ""
    import requests

    from apps.ops.management.commands.up import supervisor_environment
    from bench import payments, provisioning, purchases
    from bench.floor.run import Floor
    from devstack.processes import LocalRedis
    from devstack.stack import Stack

    # SMS_RATE far above any offered rate: the buyers' SMS are paced (one bucket take each)
    # but never held back, as an operator sets it for the gateway's throughput; at the
    # default 10/s a window at 25/s would end with most of its SMS still waiting.
    stack = Stack(
        workdir,
        DATABASE_URL=database,
        DJANGO_DEBUG="false",
        LOG_LEVEL="INFO",
        **{"SMS_RATE": UNPACED_SMS_RATE, **args.shape},
    )
    shape = {**supervisor_environment(), **stack.env}  # the pools' sizes, as `make up` has them
    floor_redis = LocalRedis(workdir / "floor-redis")
    floor = Floor(
        workdir / "floor",
        database_url=bench_database(workdir, "conveyor_floor"),
        redis_url=floor_redis.url,
        daraja_url=stack.env["DARAJA_BASE_URL"],
        router_host="127.0.0.1",
        router_port=int(stack.env["ROUTER_SIM_PORT"]),
        router_username=settings_value("ROUTER_SIM_USERNAME"),
        router_password=settings_value("ROUTER_SIM_PASSWORD"),
        sms_api_key=settings_value("AFRICASTALKING_API_KEY"),
        sms_username=settings_value("AFRICASTALKING_USERNAME"),
        web_workers=int(shape["WEB_CONCURRENCY"]),
        payments_pool=int(shape["POOL_PAYMENTS"]),
        provisioning_pool=int(shape["POOL_PROVISIONING"]),
        notifications_pool=int(shape["POOL_NOTIFICATIONS"]),
    )
    with stack, floor_redis_running(floor_redis), floor:
        # The simulator answers at once: no customer typing a PIN.
        requests.post(
            f"{stack.env['DARAJA_BASE_URL']}/simulator/config",
            json={"callback_delay": 0.0, "outcomes": {"0": 1}},
            timeout=5,
        ).raise_for_status()
        targets = [
            purchases.Product(stack, "conveyor_bench"),
            purchases.FloorTarget(floor, floor_redis, "conveyor_floor", stack),
        ]
        admin = database.rsplit("/", 1)[0] + "/postgres"
        windows = purchases.compare(targets, args.rates, args.seconds, admin)
        rows = purchases.goals(windows)
        rows += payments.ingest(stack, floor, args.ingest_count)
        rows += provisioning.run(stack, count=300, pool=int(shape["POOL_PROVISIONING"]))
        rows.append(
            {
                "measure": "process shape (Conveyor and floor alike)",
                "value": f"web {shape['WEB_CONCURRENCY']} x 4 threads, payments "
                f"{shape['POOL_PAYMENTS']}, provisioning {shape['POOL_PROVISIONING']}, "
                f"notifications {shape['POOL_NOTIFICATIONS']}",
                "setup": "gunicorn workers and prefork pool sizes; --shape changes them (and "
                f"SMS_RATE, {shape['SMS_RATE']} here: the product's SMS bucket)",
            }
        )
    return rows, purchases.tables(windows)


@contextlib.contextmanager
def floor_redis_running(server):
    server.start()
    try:
        yield server
    finally:
        server.stop()


def settings_value(name: str) -> str:
    from django.conf import settings

    return getattr(settings, name)


def bench_database(workdir: Path, name: str = "conveyor_bench") -> str:
    """A fresh PostgreSQL database on BENCH_DATABASE_URL's server (default: this machine's),
    as production runs; SQLite in the work directory if no PostgreSQL answers."""
    import psycopg

    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as exc:
        print(f"PostgreSQL does not answer ({exc}); benchmarking on SQLite.")
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    return server.rsplit("/", 1)[0] + f"/{name}"


def report(rows: list[dict], tables: str = "") -> None:
    import celery

    stamp = datetime.now().astimezone()
    machine = (
        f"{os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, Celery {celery.__version__}"
    )
    width = max(len(r["measure"]) for r in rows)
    lines = [
        f"Conveyor benchmark {stamp:%Y-%m-%d %H:%M %Z} ({machine})",
        "",
        f"| {'measure'.ljust(width)} | value | setup |",
        f"|{'-' * (width + 2)}|-------|-------|",
    ]
    lines += [f"| {r['measure'].ljust(width)} | {r['value']} | {r['setup']} |" for r in rows]
    table = "\n".join(lines) + (f"\n\n{tables}" if tables else "")
    print(table)
    RESULTS.mkdir(exist_ok=True)
    name = f"{stamp:%Y%m%d-%H%M%S}"
    (RESULTS / f"{name}.md").write_text(table + "\n")
    (RESULTS / f"{name}.json").write_text(
        json.dumps({"at": stamp.isoformat(), "machine": machine, "rows": rows}, indent=2) + "\n"
    )
    print(f"\nwritten to {RESULTS / name}.md and .json")


if __name__ == "__main__":
    main()
