"""A private PostgreSQL server for tests that stop, restart or break the database itself.

Its own cluster (initdb) on a free loopback port, trust auth, unix sockets in its data
directory, nothing durable: the suite's shared database is never touched. PostgreSQL
refuses to run as root, so as root the server runs as the ``postgres`` OS user, and the
work directory must be one that user can reach (pytest's tmp_path is private to root).
"""

import glob
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg

from devstack.processes import free_port

SERVER_USER = "postgres"

# Throwaway data: skipping durability saves seconds per start and per restart.
SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
fsync = off
synchronous_commit = off
full_page_writes = off
"""


class PostgresMissing(RuntimeError):
    """No PostgreSQL server binaries, or no OS user to run them as."""


def server_bindir() -> Path:
    """Where initdb and pg_ctl are: on PATH, else the newest of Debian's versioned
    directories (its packages keep them off PATH)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not versions:
        raise PostgresMissing(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
            "/usr/lib/postgresql/*/bin: install the postgresql package"
        )
    newest = max(versions, key=lambda p: int(Path(p).parent.parent.name))
    return Path(newest).parent


class LocalPostgres:
    """A throwaway PostgreSQL cluster in ``workdir``, served on a free loopback port."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.workdir = workdir
        self.data = workdir / "data"
        self.log_path = workdir / "postgres.log"
        self.port = port or free_port()
        self.bindir = server_bindir()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresMissing(
                    f"running as root, and there is no {SERVER_USER!r} OS user to run "
                    "PostgreSQL as (it refuses root)"
                ) from None
            self.as_user = ["runuser", "-u", SERVER_USER, "--"]

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        command = [*self.as_user, str(self.bindir / tool), *args]
        # The server user may not be allowed into the caller's working directory.
        return subprocess.run(
            command, cwd=self.workdir, capture_output=True, text=True, timeout=120, check=False
        )

    def _checked(self, tool: str, *args: str) -> None:
        done = self._run(tool, *args)
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
                f"\n{self.log()}"
            )

    def _pg_ctl_args(self, action: str, *args: str) -> list[str]:
        return ["--pgdata", str(self.data), "--wait", "--timeout", "60", *args, action]

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._checked("pg_ctl", *self._pg_ctl_args(action, *args))

    def start(self) -> "LocalPostgres":
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.workdir, user.pw_uid, user.pw_gid)
        self._checked(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            "postgres",
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        )
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS.format(port=self.port, sockets=self.data))
        self._pg_ctl("start", "--log", str(self.log_path))
        return self

    def restart(self) -> None:
        """A fast restart: every session is terminated, the server is back when it returns."""
        self._pg_ctl("restart", "--log", str(self.log_path), "--mode", "fast")

    def stop(self) -> None:
        """Stop the server if it runs (fast, else immediate); safe to call more than once."""
        if not (self.data / "postmaster.pid").exists():
            return
        for mode in ("fast", "immediate"):
            done = self._run("pg_ctl", *self._pg_ctl_args("stop", "--mode", mode))
            if done.returncode == 0:
                return
        raise RuntimeError(f"pg_ctl stop failed:\n{done.stdout}{done.stderr}\n{self.log()}")

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        """An autocommit connection from this process (each one is a session of ``dbname``)."""
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        )

    def create_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no server log)"
