"""The text staff write to a segment of members: checked before anything is written, and
filled in for each member as their notice is written.

Decisions:
- ``{name}`` is the one placeholder: the member's name, or their phone when they gave none (as
  in every notice). Any other ``{word}`` is refused as a typo. The text is data, never a
  Django template: ``{{ }}`` and ``{% %}`` reach members as written, and mail's HTML part
  escapes it.
- An SMS may take STAFF_SMS_MAX_PARTS parts (3), each billed: 459 characters of the GSM 03.38
  alphabet (153 a part once a message is split; ``^{}\\[~]|€`` count twice), or 201 when any
  other character (an emoji, a curly quote) sends the whole message as UCS-2 (67 a part).
  ``{name}`` counts as NAME_ALLOWANCE characters; a longer name may add a part to that
  member's SMS.
- Mail needs a subject on one line (up to SUBJECT_MAX characters); a text may be up to
  TEXT_MAX characters.
"""

import math
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings

from apps.notifications.models import Channel

NAME_ALLOWANCE = 20
SUBJECT_MAX = 150
TEXT_MAX = 10_000
PLACEHOLDER = re.compile(r"\{(\w*)\}")
_GSM = frozenset(
    string.ascii_letters
    + string.digits
    + " \n\r@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà"
)
_GSM_TWICE = frozenset("^{}\\[~]|€\f")  # the extension table: an escape, then the character


@dataclass(frozen=True)
class SmsSize:
    length: int  # as the gateway counts it, {name} as NAME_ALLOWANCE characters
    parts: int
    most: int  # the longest text that fits STAFF_SMS_MAX_PARTS parts, in its alphabet
    unusual: str  # its characters outside the GSM alphabet (they make it UCS-2)


def fill(text: str, name: str) -> str:
    return text.replace("{name}", name)


def fill_context(context: dict, name: str) -> dict:
    """A broadcast's context for one member: ``{name}`` filled in each text."""
    return {k: fill(v, name) if isinstance(v, str) else v for k, v in context.items()}


def sms_size(text: str) -> SmsSize:
    sample = fill(text, "x" * NAME_ALLOWANCE)
    unusual = "".join(sorted(set(sample) - _GSM - _GSM_TWICE))
    if unusual:
        length, single, part = len(sample.encode("utf-16-le")) // 2, 70, 67
    else:
        length, single, part = len(sample) + sum(c in _GSM_TWICE for c in sample), 160, 153
    most_parts = settings.STAFF_SMS_MAX_PARTS
    return SmsSize(
        length=length,
        parts=1 if length <= single else math.ceil(length / part),
        most=single if most_parts == 1 else part * most_parts,
        unusual=unusual,
    )


def message_errors(*, channels: Sequence[str], subject: str, body: str) -> dict[str, str]:
    """What is wrong with a staff message, by form field; empty when it may be sent."""
    errors = {}
    if not channels:
        errors["channels"] = "Choose SMS, email or both."
    elif unknown := sorted(set(channels) - {Channel.SMS, Channel.EMAIL}):
        errors["channels"] = f"A message goes by SMS or email, not {', '.join(unknown)}."
    if problem := _body_problem(channels, body):
        errors["body"] = problem
    if Channel.EMAIL in channels and (problem := _subject_problem(subject)):
        errors["subject"] = problem
    return errors


def _body_problem(channels: Sequence[str], body: str) -> str:
    if not body.strip():
        return "Write the message."
    if len(body) > TEXT_MAX:
        return f"A message may be {TEXT_MAX:,} characters at most; this one is {len(body):,}."
    if problem := _placeholder_problem(body):
        return problem
    if Channel.SMS not in channels:
        return ""
    size = sms_size(body)
    if size.length <= size.most:
        return ""
    why = f" because of {size.unusual!r}, outside the SMS alphabet" if size.unusual else ""
    return (
        f"As an SMS this is {size.length} characters ({{name}} counted as {NAME_ALLOWANCE}): "
        f"at most {size.most} fit in {settings.STAFF_SMS_MAX_PARTS} parts{why}."
    )


def _subject_problem(subject: str) -> str:
    if not subject.strip():
        return "Mail needs a subject."
    if len(subject) > SUBJECT_MAX:
        return f"A subject may be {SUBJECT_MAX} characters at most."
    if "\n" in subject or "\r" in subject:
        return "A subject is one line."
    return _placeholder_problem(subject)


def _placeholder_problem(text: str) -> str:
    unknown = sorted(set(PLACEHOLDER.findall(text)) - {"name"})
    if not unknown:
        return ""
    named = ", ".join(f"{{{word}}}" for word in unknown)
    return f"Only {{name}} is filled in for each member; {named} is not a placeholder."
