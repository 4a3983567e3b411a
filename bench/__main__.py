"""Run the benchmarks against a private redis-server and real workers; print one table and
write it, with the machine it ran on, to bench/results/<timestamp>.{md,json}."""

import argparse
import json
import os
import platform
import tempfile
from datetime import datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--batch", type=int, default=2000, help="Tasks per round.")
    parser.add_argument("--rounds", type=int, default=5, help="Rounds per task class.")
    parser.add_argument("--ingest-rate", type=float, default=300, help="Callbacks/s offered.")
    parser.add_argument("--e2e-rate", type=float, default=50, help="Purchases/s offered.")
    parser.add_argument("--seconds", type=float, default=10, help="Length of each load run.")
    parser.add_argument("--ledger-rows", type=int, default=1_000_000, help="Rows to sweep.")
    parser.add_argument("--members", type=int, default=100_000, help="Wallets they go to.")
    parser.add_argument(
        "--only", choices=["queue", "stack", "money"], help="Run one part (default: all)."
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    from devstack.processes import LocalRedis

    server = LocalRedis(workdir / "redis").start()
    database = bench_database(workdir)
    os.environ.update(
        REDIS_URL=server.url,
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DJANGO_READ_DOT_ENV_FILE="false",
        VAR_DIR=str(workdir / "var"),
        DATABASE_URL=database,
    )
    import django

    django.setup()
    from bench import money

    rows = []
    if args.only in (None, "queue"):
        rows += _queue_overhead(args, workdir, server)
    server.stop()
    if args.only in (None, "stack"):
        rows += _stack(args, workdir, database)
    if args.only in (None, "money"):
        rows += money.run(args.ledger_rows, args.members)
    rows.append(
        {
            "measure": "database",
            "value": database.split(":", 1)[0],
            "setup": "PostgreSQL when one answers (BENCH_DATABASE_URL), else SQLite",
        }
    )
    report(rows)


def _queue_overhead(args, workdir: Path, server) -> list[dict]:
    import redis

    from bench import queue_overhead
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
        return queue_overhead.run(worker, client, args.batch, args.rounds)
    finally:
        worker.stop()


def _stack(args, workdir: Path, database: str) -> list[dict]:
    """The payments and provisioning figures need the whole stack; it shares our database."""
    from bench import payments, provisioning
    from devstack.stack import Stack

    rows = []
    stack = Stack(workdir, DATABASE_URL=database, DJANGO_DEBUG="false", LOG_LEVEL="INFO")
    with stack:
        rows += payments.ingest(stack, args.ingest_rate, args.seconds, saturate=2000)
        # Well within this machine's capacity, about at it, and the goal's rate.
        for rate in (args.e2e_rate / 5, args.e2e_rate / 2, args.e2e_rate):
            rows += payments.end_to_end(stack, stack.env["DARAJA_BASE_URL"], rate, args.seconds * 2)
        rows += provisioning.run(stack, count=300)
    return rows


def bench_database(workdir: Path) -> str:
    """A fresh PostgreSQL database on BENCH_DATABASE_URL's server (default: this machine's),
    as production runs; SQLite in the work directory if no PostgreSQL answers."""
    import psycopg

    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
            conn.execute("DROP DATABASE IF EXISTS conveyor_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE conveyor_bench")
    except psycopg.Error as exc:
        print(f"PostgreSQL does not answer ({exc}); benchmarking on SQLite.")
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    return server.rsplit("/", 1)[0] + "/conveyor_bench"


def report(rows: list[dict]) -> None:
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
    table = "\n".join(lines)
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
