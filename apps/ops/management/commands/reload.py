import socket
import subprocess
import sys

from django.core.management.base import BaseCommand, CommandError

from apps.ops import broker
from config import queues
from config.env import BASE_DIR, VAR_DIR

CONF = BASE_DIR / "supervisor" / "supervisord.conf"


class Command(BaseCommand):
    help = (
        "Graceful deploy under a running `make up` (artisan queue:restart): gunicorn replaces "
        "its workers; each queue's pool, one after another, finishes the tasks it runs (warm "
        "shutdown: what it had reserved goes back to the queue) and starts on the new code; "
        "then beat and Flower restart."
    )

    def handle(self, *args, **options):
        self._ctl("signal", "HUP", "web")
        for name in queues.NAMES:
            # The pool on this host stops taking messages and finishes what it took, then
            # restarts; the others keep consuming meanwhile.
            node = f"{name}@{socket.gethostname()}"
            drained = broker.drain(node, name, timeout=queues.policy(name).hard_limit + 10)
            if not drained:
                self.stdout.write(f"{node}: not drained (not answering, or still busy)")
            self._ctl("restart", f"workers:worker-{name}")
        self._ctl("restart", "beat", "flower")
        self.stdout.write("Reloaded: web, every pool, beat and Flower run the new code.")

    def _ctl(self, *args: str) -> None:
        command = [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(CONF)]
        command += ["-s", f"unix://{VAR_DIR}/run/supervisor.sock", *args]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        self.stdout.write(result.stdout.rstrip())
        if result.returncode != 0 or "ERROR" in result.stdout:
            raise CommandError(
                f"supervisorctl {' '.join(args)} failed ({result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}. Is `make up` running?"
            )
