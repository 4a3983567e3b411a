"""MikroTik RouterOS API over librouteros: hotspot users, profiles, sessions, resources.

One connection per use (an Api is not safe to share between threads), TLS when the router
says so, a timeout on every read. Failures of the link (refused, reset, timed out, closed,
!fatal) raise RouterUnavailable, a TransientError; a trap the router answers on purpose
raises RouterRefused, an ApplicationError, except the duplicate-name traps, which mean the
user or profile is already there (added by an earlier run, or a job racing this one).
"""

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from librouteros import connect
from librouteros.api import Api
from librouteros.exceptions import ConnectionClosed, FatalError, ProtocolError, TrapError
from librouteros.query import Key

from apps.common.errors import ApplicationError, TransientError
from apps.provisioning.results import RouterUserResult

DUPLICATE_NAME = "already have user with this name"
DUPLICATE_PROFILE = "already have profile with such name"
LINK_ERRORS = (OSError, socket.timeout, ConnectionClosed, FatalError, ssl.SSLError)


class RouterUnavailable(TransientError):
    """The router could not be reached or dropped the connection: try again later."""


class RouterRefused(ApplicationError):
    """The router answered with a trap (a bad login, an unknown profile, ...)."""


@contextmanager
def session(router) -> Iterator[Api]:
    """A logged-in API connection to ``router``, closed on the way out, errors translated."""
    try:
        api = connect(
            host=router.host,
            username=router.username,
            password=router.password,
            port=router.port,
            timeout=settings.ROUTER_TIMEOUT,
            encoding="utf-8",
            ssl_wrapper=_tls(router.host) if router.use_tls else None,
        )
    except TrapError as exc:
        raise RouterRefused(f"{router.name}: login refused: {exc.message}") from exc
    except LINK_ERRORS as exc:
        raise RouterUnavailable(f"{router.name}: {type(exc).__name__}: {exc}") from exc
    try:
        yield api
    except TrapError as exc:
        raise RouterRefused(f"{router.name}: {exc.message}") from exc
    except (*LINK_ERRORS, ProtocolError) as exc:
        raise RouterUnavailable(f"{router.name}: {type(exc).__name__}: {exc}") from exc
    finally:
        api.close()


def _tls(host: str):
    if settings.ROUTER_TLS_CA_FILE:
        context = ssl.create_default_context(cafile=settings.ROUTER_TLS_CA_FILE)
    else:  # RouterOS certificates are mostly self-signed: encrypt without verifying
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return lambda sock: context.wrap_socket(sock, server_hostname=host)


def profile_ensure(api: Api, *, name: str, rate_limit: str) -> None:
    """The hotspot user profile ``name`` exists with ``rate_limit`` (rx/tx as RouterOS reads it)."""
    profiles = api.path("ip", "hotspot", "user", "profile")
    found = list(profiles.select(Key(".id"), Key("rate-limit")).where(Key("name") == name))
    if not found:
        try:
            profiles.add(name=name, **({"rate-limit": rate_limit} if rate_limit else {}))
        except TrapError as exc:
            if DUPLICATE_PROFILE not in exc.message:
                raise  # else a job for the same package added it a moment ago
    elif rate_limit and found[0].get("rate-limit") != rate_limit:
        profiles.update(**{".id": found[0][".id"], "rate-limit": rate_limit})


def user_upsert(
    api: Api,
    *,
    name: str,
    password: str,
    profile: str,
    limit_uptime: str,
    limit_bytes_total: int,
    comment: str,
) -> RouterUserResult:
    """Add the hotspot user, or bring it up to date; ADDED or UPDATED.

    Added first, as a new user is the common case (one round trip); RouterOS refuses a name it
    has, and then the user is looked up by name (.ids change when the router reboots) and set.
    """
    users = api.path("ip", "hotspot", "user")
    fields = {
        "password": password,
        "profile": profile,
        "limit-uptime": limit_uptime,
        "limit-bytes-total": limit_bytes_total,
        "comment": comment,
        "disabled": False,
    }
    try:
        users.add(name=name, **fields)
        return RouterUserResult.ADDED
    except TrapError as exc:
        if DUPLICATE_NAME not in exc.message:
            raise  # else added by an earlier run of this task, or by staff
    found = list(users.select(Key(".id")).where(Key("name") == name))
    if not found:  # removed since: add it again
        users.add(name=name, **fields)
        return RouterUserResult.ADDED
    users.update(**{".id": found[0][".id"], **fields})
    return RouterUserResult.UPDATED


def user_remove(api: Api, *, name: str) -> bool:
    """Remove the hotspot user if it is there; whether it was."""
    users = api.path("ip", "hotspot", "user")
    ids = [row[".id"] for row in users.select(Key(".id")).where(Key("name") == name)]
    if ids:
        users.remove(*ids)
    return bool(ids)


def sessions_kick(api: Api, *, user: str) -> int:
    """Disconnect the user's active sessions; how many there were."""
    active = api.path("ip", "hotspot", "active")
    ids = [row[".id"] for row in active.select(Key(".id")).where(Key("user") == user)]
    if ids:
        active.remove(*ids)
    return len(ids)


def resources(api: Api) -> dict:
    """/system/resource/print and the router's identity."""
    figures = next(iter(api.path("system", "resource")), {})
    identity = next(iter(api.path("system", "identity")), {})
    return {**figures, "identity": identity.get("name", "")}


def duration(seconds: int) -> str:
    """RouterOS's compact time: 90061 -> "1d1h1m1s", 0 -> "0s"."""
    parts, rest = [], int(seconds)
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
