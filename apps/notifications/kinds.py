"""The kinds of notice, their channels, and their templates.

Each kind has a directory under templates/notifications/<kind>/ holding a file per channel:
sms.txt, in_app.txt, and for mail subject.txt, email.txt and email.html. A notice is
rendered once, when its row is written; a variable the template uses but the context lacks
is an error then, in the caller (TemplateMissing), never an empty hole in a sent SMS.
"""

from dataclasses import dataclass
from pathlib import Path

from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import VariableDoesNotExist

from apps.notifications.models import Channel

TEMPLATES = Path(__file__).parent / "templates" / "notifications"


@dataclass(frozen=True)
class Kind:
    name: str
    channels: tuple[str, ...]  # the channels this kind can use
    chosen: bool  # whether a member's preferences choose them (in-app always); else all


KINDS = {
    k.name: k
    for k in (
        # A buyer's WiFi login once it is on the router, and word if that failed for good.
        Kind("wifi_credentials", (Channel.SMS,), chosen=False),
        Kind("provisioning_delayed", (Channel.SMS,), chosen=False),
        # A member's digest per sweep: one notice for all the rows it credited.
        Kind("commissions_credited", (Channel.IN_APP, Channel.SMS, Channel.EMAIL), chosen=True),
        Kind("earnings_matured", (Channel.IN_APP, Channel.SMS, Channel.EMAIL), chosen=True),
        Kind("commission_rate_changed", (Channel.IN_APP, Channel.SMS, Channel.EMAIL), chosen=True),
        # Staff wrote it to a segment (admin, Send a message) and chose its channels: members'
        # preferences are not asked. Its text is context, never a template (see texts.py).
        Kind("staff_message", (Channel.SMS, Channel.EMAIL), chosen=False),
        # Staff: a task of the payments or provisioning queue failed for good.
        Kind("task_failed", (Channel.EMAIL,), chosen=False),
        # Staff: a report or export they asked for (or a scheduled one) is ready.
        Kind("document_ready", (Channel.EMAIL,), chosen=False),
    )
}


class TemplateMissing(Exception):
    """A template names a variable its context lacks, or does not exist."""


class _Missing(str):
    """Django's string_if_invalid, made to raise: Django formats it with the variable's name."""

    def __mod__(self, name):
        raise TemplateMissing(f"the template uses {{{{ {name} }}}}, which the context lacks")


_MISSING = _Missing("%s")
_TEXT = Engine(dirs=[str(TEMPLATES)], autoescape=False, string_if_invalid=_MISSING)
_HTML = Engine(dirs=[str(TEMPLATES)], autoescape=True, string_if_invalid=_MISSING)


@dataclass(frozen=True)
class Rendered:
    body: str
    subject: str = ""
    html: str = ""


def kind_get(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise TemplateMissing(f"no notification kind {name!r}; kinds: {', '.join(KINDS)}") from None


def render(kind: str, channel: str, context: dict) -> Rendered:
    """The text of a ``kind`` notice for ``channel``; TemplateMissing names what is missing."""
    if channel == Channel.EMAIL:
        return Rendered(
            subject=" ".join(_render(_TEXT, kind, "subject.txt", context).split()),
            body=_render(_TEXT, kind, "email.txt", context).strip(),
            html=_render(_HTML, kind, "email.html", context).strip(),
        )
    return Rendered(body=_render(_TEXT, kind, f"{channel}.txt", context).strip())


def _render(engine: Engine, kind: str, name: str, context: dict) -> str:
    path = f"{kind}/{name}"
    try:
        # The engine's autoescape holds only if the Context says so (Context's default is on):
        # an SMS or a plain-text mail must not arrive with &amp; and &#x27; in it.
        return engine.get_template(path).render(Context(context, autoescape=engine.autoescape))
    except TemplateMissing as exc:
        raise TemplateMissing(f"{path}: {exc}") from None
    except (TemplateSyntaxError, VariableDoesNotExist) as exc:
        raise TemplateMissing(f"{path}: {exc}") from None
    except Exception as exc:
        if type(exc).__name__ == "TemplateDoesNotExist":
            raise TemplateMissing(f"no template {path} for this kind and channel") from None
        raise
