"""A private FreeRADIUS for the tests: the system's install, its own config directory, one
site on a free loopback port, rlm_sql on the test database (PostgreSQL, or the SQLite file)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.db import connection

from devstack.processes import free_port, wait_for

SYSTEM_CONFIG = Path("/etc/freeradius/3.0")
SECRET = "testing123"
MODULES = ["always", "attr_filter", "date", "expiration", "expr", "pap", "preprocess"]


def installed() -> str | None:
    """Why FreeRADIUS cannot run here, or None when it can."""
    for binary in ("freeradius", "radclient"):
        if not shutil.which(binary):
            return f"{binary} is not installed (apt-get install freeradius freeradius-utils)"
    if not SYSTEM_CONFIG.is_dir():
        return f"no FreeRADIUS configuration at {SYSTEM_CONFIG}"
    return None


def sql_module() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        dialect, driver = "sqlite", f'sqlite {{\n    filename = "{db["NAME"]}"\n  }}'
    else:
        dialect = "postgresql"
        driver = (
            f'server = "{db["HOST"] or "127.0.0.1"}"\n  port = {db["PORT"] or 5432}\n'
            f'  login = "{db["USER"]}"\n  password = "{db["PASSWORD"]}"\n'
            f'  radius_db = "{db["NAME"]}"'
        )
    tables = "\n".join(
        f'  {k} = "{v}"'
        for k, v in {
            "acct_table1": "radacct",
            "acct_table2": "radacct",
            "postauth_table": "radpostauth",
            "authcheck_table": "radcheck",
            "groupcheck_table": "radgroupcheck",
            "authreply_table": "radreply",
            "groupreply_table": "radgroupreply",
            "usergroup_table": "radusergroup",
            "client_table": "nas",
            "group_attribute": "SQL-Group",
        }.items()
    )
    return f"""sql {{
  dialect = "{dialect}"
  driver = "rlm_sql_{dialect}"
  {driver}
{tables}
  read_clients = no
  pool {{
    start = 1
    min = 1
    max = 4
    spare = 1
    uses = 0
    lifetime = 0
    idle_timeout = 60
  }}
  $INCLUDE ${{modconfdir}}/${{.:name}}/main/${{dialect}}/queries.conf
}}
"""


class FreeRadius:
    def __init__(self, workdir: Path):
        self.dir = workdir / "raddb"
        self.port = free_port()
        self.log = workdir / "radiusd.log"
        self.process: subprocess.Popen | None = None

    def configure(self) -> None:
        shutil.copytree(SYSTEM_CONFIG, self.dir, symlinks=True)
        conf = (self.dir / "radiusd.conf").read_text()
        conf = re.sub(r"^(\s*)(user|group) = ", r"\1# \2 = ", conf, flags=re.M)  # we are root
        conf = conf.replace("logdir = /var/log/freeradius", f"logdir = {self.dir}")
        conf = conf.replace("run_dir = ${localstatedir}/run/${name}", f"run_dir = {self.dir}")
        (self.dir / "radiusd.conf").write_text(conf)
        for folder in ("mods-enabled", "sites-enabled"):
            shutil.rmtree(self.dir / folder)
            (self.dir / folder).mkdir()
        for module in MODULES:
            (self.dir / "mods-enabled" / module).symlink_to(f"../mods-available/{module}")
        (self.dir / "mods-enabled" / "sql").write_text(sql_module())
        (self.dir / "clients.conf").write_text(
            f"client tests {{\n  ipaddr = 127.0.0.1\n  secret = {SECRET}\n}}\n"
        )
        (self.dir / "sites-enabled" / "conveyor").write_text(f"""server conveyor {{
listen {{
  type = auth
  ipaddr = 127.0.0.1
  port = {self.port}
}}
authorize {{
  preprocess
  sql
  expiration
  pap
}}
authenticate {{
  Auth-Type PAP {{
    pap
  }}
}}
post-auth {{
  Post-Auth-Type REJECT {{
    attr_filter.access_reject
  }}
}}
}}
""")

    def start(self) -> "FreeRadius":
        self.configure()
        env = {**os.environ, "TZ": settings.RADIUS_TIME_ZONE}  # how it reads Expiration
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                ["freeradius", "-f", "-l", "stdout", "-d", str(self.dir)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def ready() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"FreeRADIUS exited:\n{self.log.read_text()}")
            return "Ready to process requests" in self.log.read_text()

        wait_for(ready, timeout=30, interval=0.1, what="FreeRADIUS to be ready")
        return self

    def authenticate(self, username: str, password: str) -> str:
        """radclient's whole answer to an Access-Request."""
        request = f'User-Name = "{username}", User-Password = "{password}"\n'
        result = subprocess.run(
            ["radclient", "-x", "-r", "1", "-t", "5", f"127.0.0.1:{self.port}", "auth", SECRET],
            input=request,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        return result.stdout + result.stderr

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
