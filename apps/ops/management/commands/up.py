"""`make up`: migrate, then run the whole stack under supervisord in the foreground."""

import os
import secrets
import shutil
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from config import queues
from config.env import BASE_DIR, VAR_DIR
from devstack.processes import answers, redis_server_binary

SUPERVISOR_DIR = BASE_DIR / "supervisor"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def supervisor_environment() -> dict[str, str]:
    """Every %(ENV_...)s the supervisor files use: the environment's value, else the
    setting's (each default is defined once, in config/settings)."""
    defaults = {
        "WEB_HOST": settings.WEB_HOST,
        "WEB_PORT": str(settings.WEB_PORT),
        "WEB_CONCURRENCY": str(2 * (os.cpu_count() or 1) + 1),  # sync workers wait on the DB
        "TASK_EVENTS": str(settings.CELERY_WORKER_SEND_TASK_EVENTS).lower(),
        "FLOWER_ADDRESS": settings.FLOWER_ADDRESS,
        "FLOWER_PORT": str(settings.FLOWER_PORT),
        "LOG_LEVEL": settings.LOG_LEVEL,
        # Each pool's processes: the queue table's unless this machine says otherwise.
        **{f"POOL_{q.name.upper()}": str(q.pool) for q in queues.QUEUES},
        "WORKER_MAX_TASKS_PER_CHILD": str(settings.WORKER_MAX_TASKS_PER_CHILD),
        "WORKER_MAX_MEMORY_KB": str(settings.WORKER_MAX_MEMORY_KB),
    }
    return {name: os.environ.get(name, value) for name, value in defaults.items()}


class Command(BaseCommand):
    help = (
        "Migrate, then run web, one worker pool per queue, beat and Flower under supervisord "
        "in the foreground (plus a private redis-server when nothing answers at REDIS_URL). "
        "Ctrl-C stops them all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-migrate", action="store_true", help="Skip migrate.")

    def handle(self, *args, **options):
        environ = {**os.environ, **supervisor_environment()}
        environ["VAR_DIR"] = str(VAR_DIR)
        environ["DJANGO_SETTINGS_MODULE"] = os.environ["DJANGO_SETTINGS_MODULE"]
        environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
        for sub in ("log", "run", "redis", "supervisor.d"):
            (VAR_DIR / sub).mkdir(parents=True, exist_ok=True)

        for name in ("WEB", "FLOWER"):
            host = environ["WEB_HOST" if name == "WEB" else "FLOWER_ADDRESS"]
            _require_free(host, int(environ[f"{name}_PORT"]), f"{name}_PORT")
        redis_note = self._redis(environ)
        daraja_note = self._daraja(environ)
        stripe_note = self._stripe(environ)
        sms_note = self._sms(environ)
        router_note = self._router(environ)
        environ["FLOWER_BASIC_AUTH"], flower_note = _flower_credentials()

        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=1)
        call_command("setup_schedules")
        # In development, a referral forest with today's completions to look at in admin.
        call_command("seed_demo", members=settings.DEMO_MEMBERS if settings.DEBUG else 0)
        connections.close_all()

        web = f"http://{environ['WEB_HOST']}:{environ['WEB_PORT']}"
        flower = (
            f"http://{environ['FLOWER_ADDRESS']}:{environ['FLOWER_PORT']}/"
            f"{settings.FLOWER_URL_PREFIX}"
        )
        self.stdout.write(
            f"\nConveyor\n"
            f"  web      {web}/   health {web}/healthz   admin {web}/admin/\n"
            f"  ops      {web}/admin/ops/   metrics {web}/metrics\n"
            f"  flower   {flower}/   {flower_note}\n"
            f"  redis    {redis_note}\n"
            f"  daraja   {daraja_note}\n"
            f"  stripe   {stripe_note}\n"
            f"  sms      {sms_note}\n"
            f"  router   {router_note}\n"
            f"  database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}"
            f" {settings.DATABASES['default']['NAME']}\n"
            f"  logs     {VAR_DIR / 'log'}/<program>.log\n"
            f"  Ctrl-C stops everything.\n\n"
        )
        self.stdout.flush()
        conf = str(SUPERVISOR_DIR / "supervisord.conf")
        os.execvpe("supervisord", ["supervisord", "-n", "-c", conf], environ)  # noqa: S606, S607

    def _redis(self, environ: dict) -> str:
        """Use the Redis at REDIS_URL, or arrange a private one on its host and port."""
        url = settings.REDIS_URL
        if answers(url):
            _optional("redis", False)
            return f"{url} (answering)"
        host, port = _local_address(url, 6379, "REDIS_URL")
        environ.update(
            REDIS_SERVER_BIN=redis_server_binary(), REDIS_HOST=host, REDIS_PORT=str(port)
        )
        _optional("redis", True)
        return (
            f"{url} (private redis-server {environ['REDIS_SERVER_BIN']}, data in {VAR_DIR}/redis)"
        )

    def _daraja(self, environ: dict) -> str:
        """Daraja itself, or the simulator when DARAJA_BASE_URL is a free local address."""
        url = settings.DARAJA_BASE_URL
        if (urlsplit(url).hostname or "") not in LOOPBACK or _listening(url):
            _optional("daraja-sim", False)
            return url
        host, port = _local_address(url, 80, "DARAJA_BASE_URL")
        environ.update(DARAJA_SIM_HOST=host, DARAJA_SIM_PORT=str(port))
        _optional("daraja-sim", True)
        return f"{url} (the Daraja simulator; knobs: POST {url}/simulator/config)"

    def _stripe(self, environ: dict) -> str:
        """Stripe itself, or the simulator when STRIPE_API_BASE is a free local address; it
        signs its events for this stack's /hooks/stripe/ with STRIPE_WEBHOOK_SECRET."""
        url = settings.STRIPE_API_BASE
        if (urlsplit(url).hostname or "") not in LOOPBACK or _listening(url):
            _optional("stripe-sim", False)
            return url
        host, port = _local_address(url, 80, "STRIPE_API_BASE")
        environ.update(
            STRIPE_SIM_HOST=host,
            STRIPE_SIM_PORT=str(port),
            STRIPE_SECRET_KEY=settings.STRIPE_SECRET_KEY,
            STRIPE_WEBHOOK_SECRET=settings.STRIPE_WEBHOOK_SECRET,
            STRIPE_WEBHOOK_URL=f"http://{environ['WEB_HOST']}:{environ['WEB_PORT']}/hooks/stripe/",
        )
        _optional("stripe-sim", True)
        return f"{url} (the Stripe simulator; pay a session at its checkout_url)"

    def _sms(self, environ: dict) -> str:
        """Africa's Talking itself, or the simulator when SMS go through it and
        AFRICASTALKING_BASE_URL is a free local address; it POSTs delivery reports to this
        stack's /hooks/sms/<SMS_DELIVERY_TOKEN>/."""
        url, token = settings.AFRICASTALKING_BASE_URL, settings.SMS_DELIVERY_TOKEN
        if not settings.SMS_BACKEND.endswith("AfricasTalkingBackend"):
            _optional("africastalking-sim", False)
            return settings.SMS_BACKEND
        if (urlsplit(url).hostname or "") not in LOOPBACK or _listening(url):
            _optional("africastalking-sim", False)
            return url
        host, port = _local_address(url, 80, "AFRICASTALKING_BASE_URL")
        web = f"http://{environ['WEB_HOST']}:{environ['WEB_PORT']}"
        environ.update(
            AT_SIM_HOST=host,
            AT_SIM_PORT=str(port),
            # No token, no hook (it answers 404): then no reports at all.
            AT_SIM_DLR_URL=f"{web}/hooks/sms/{token}/" if token else "",
            AFRICASTALKING_API_KEY=settings.AFRICASTALKING_API_KEY,
            AFRICASTALKING_USERNAME=settings.AFRICASTALKING_USERNAME,
        )
        _optional("africastalking-sim", True)
        return f"{url} (the Africa's Talking simulator; sent: GET {url}/simulator/messages)"

    def _router(self, environ: dict) -> str:
        """The RouterOS simulator, in development (ROUTER_SIM_PORT), when its port is free."""
        port = getattr(settings, "ROUTER_SIM_PORT", None)
        if not port or _listening(f"http://127.0.0.1:{port}"):
            _optional("routeros-sim", False)
            return "the routers in admin" + (f" (port {port} is taken)" if port else "")
        control = port + 1000
        environ.update(
            ROUTER_SIM_PORT=str(port),
            ROUTER_SIM_CONTROL_PORT=str(control),
            ROUTER_SIM_USERNAME=settings.ROUTER_SIM_USERNAME,
            ROUTER_SIM_PASSWORD=settings.ROUTER_SIM_PASSWORD,
        )
        _optional("routeros-sim", True)
        return (
            f"the RouterOS simulator on 127.0.0.1:{port} "
            f"(knobs: POST http://127.0.0.1:{control}/config)"
        )


def _optional(program: str, wanted: bool) -> None:
    """Include supervisor/optional/<program>.conf in this machine's stack, or not."""
    extra = VAR_DIR / "supervisor.d" / f"{program}.conf"
    if wanted:
        shutil.copyfile(SUPERVISOR_DIR / "optional" / f"{program}.conf", extra)
    else:
        extra.unlink(missing_ok=True)


def _local_address(url: str, default_port: int, variable: str) -> tuple[str, int]:
    """Host and port of ``url`` for a private server: loopback only, and free."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    if host not in LOOPBACK:
        raise CommandError(f"Nothing answers at {variable}={url}; start it, or unset {variable}.")
    _require_free(host, port, variable)
    return host, port


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=1):
            return True
    except OSError:
        return False


def _flower_credentials() -> tuple[str, str]:
    """FLOWER_BASIC_AUTH, or development credentials generated once and kept in VAR_DIR."""
    given = settings.FLOWER_BASIC_AUTH
    if given:
        return given, "basic auth from FLOWER_BASIC_AUTH"
    path = VAR_DIR / "flower-dev-credentials"
    if not path.exists():
        path.write_text(f"admin:{secrets.token_urlsafe(12)}\n")
        path.chmod(0o600)
    credentials = path.read_text().strip()
    return credentials, f"dev login {credentials} (from {path}; set FLOWER_BASIC_AUTH to choose)"


def _require_free(host: str, port: int, variable: str) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CommandError(f"{host}:{port} is taken ({exc.strerror}); set {variable}.") from exc
