"""`celery beat` in a subprocess for the tests, its log in a file."""

import subprocess
import sys
from pathlib import Path


class Beat:
    """`celery beat` in a subprocess, its log in a file."""

    def __init__(self, tmp_path: Path, env: dict, name: str):
        self.log_path = tmp_path / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"],
                # The probe tasks registered in beat too, so it sends them as it sends ours
                # (results ignored), not as unknown names whose results it would wait on.
                env={"WORKER_EXTRA_IMPORTS": "tests.support.probes", **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def leads(self) -> bool:
        return "beat.leading" in self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
