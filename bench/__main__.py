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
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-"))
    from apps.ops.processes import LocalRedis

    server = LocalRedis(workdir / "redis").start()
    os.environ.update(
        REDIS_URL=server.url,
        DJANGO_SETTINGS_MODULE="config.settings.dev",
        DJANGO_READ_DOT_ENV_FILE="false",
        VAR_DIR=str(workdir / "var"),
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
    )
    import django

    django.setup()
    import redis

    from apps.ops.processes import WorkerProcess
    from bench import queue_overhead
    from config import queues

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
        rows = queue_overhead.run(worker, client, args.batch, args.rounds)
    finally:
        worker.stop()
        server.stop()
    report(rows)


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
