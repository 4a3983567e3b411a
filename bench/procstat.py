"""CPU time per kind of process, read from /proc, and the two counts that do not drift with
the host: Redis commands and PostgreSQL transactions.

A kind is a set of process trees (a gunicorn master and its workers, a pool's main process and
its children). Its CPU over a window is, for every process alive at the end, its own user +
system time less what it had at the start (all of it if it is new), plus, for every process
alive at both ends, the growth of the time of the children it reaped: a child that began and
ended inside the window (a PostgreSQL backend for one connection, a recycled pool child) is
counted through its parent. A child that began before the window and ended inside it is
counted whole; the pools recycle a child only every WORKER_MAX_TASKS_PER_CHILD tasks.
"""

import os
from dataclasses import dataclass

import psutil

TICK = 1000 / os.sysconf("SC_CLK_TCK")  # ms per clock tick


def _times(pid: int) -> tuple[int, int] | None:
    """(own ticks, reaped children's ticks) of ``pid``, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # Fields 14-17 of proc(5), counted here from field 3 (state).
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return utime + stime, cutime + cstime


def _tree(root: int, alone: bool) -> list[int]:
    if alone:
        return [root]
    try:
        return [root, *(p.pid for p in psutil.Process(root).children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


@dataclass(frozen=True)
class Kind:
    name: str
    roots: tuple[int, ...]
    product: bool  # one of the product's own processes (else a simulator or the load)
    alone: bool = False  # the root alone, not its children (supervisord runs everything)


class CpuMeter:
    """``snapshot()`` before and after a window; ``ms(before, after)`` per kind."""

    def __init__(self, kinds: list[Kind]):
        self.kinds = kinds

    def snapshot(self) -> dict[str, dict[int, tuple[int, int]]]:
        shot = {}
        for kind in self.kinds:
            pids = [pid for root in kind.roots for pid in _tree(root, kind.alone)]
            shot[kind.name] = {pid: t for pid in pids if (t := _times(pid)) is not None}
        return shot

    def ms(self, before: dict, after: dict) -> dict[str, float]:
        spent = {}
        for kind in self.kinds:
            start, end = before[kind.name], after[kind.name]
            ticks = 0
            for pid, (own, reaped) in end.items():
                was_own, was_reaped = start.get(pid, (0, reaped))
                ticks += own - was_own + reaped - was_reaped
            spent[kind.name] = ticks * TICK
        return spent


def postmaster_pid() -> int | None:
    """The local PostgreSQL server's main process (its backends are its children)."""
    for proc in psutil.process_iter(["name", "ppid"]):
        if proc.info["name"] in ("postgres", "postmaster"):
            try:
                parent = psutil.Process(proc.info["ppid"]).name()
            except psutil.NoSuchProcess:
                continue
            if parent not in ("postgres", "postmaster"):
                return proc.pid
    return None


def redis_commands(client) -> dict[str, int]:
    """Calls per command since the server started (INFO commandstats)."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def pg_counts(conn, database: str) -> dict[str, int]:
    """Transactions and sessions of ``database`` (pg_stat_database). A backend reports its
    figures when it goes idle, at most once a second, so a reading lags by up to a second
    while it is busy and by up to 10 s for one that went idle (PostgreSQL 15)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    row = conn.execute(
        "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database WHERE datname = %s",
        (database,),
    ).fetchone()
    return {"transactions": int(row[0]), "sessions": int(row[1])}
