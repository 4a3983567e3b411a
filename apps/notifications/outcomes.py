"""What a delivery attempt can end in, whichever the channel or backend.

A backend returns Accepted or Refused, or raises NotSent when the message certainly did not
leave (nothing connected, or the provider answered that it failed): only then is it safe to
try again. Anything after the request may have reached the provider raises Ambiguous, and
the message is never sent again on its own (README, "Never sent twice").
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Accepted:
    provider_id: str
    cost: str = ""


@dataclass(frozen=True)
class Refused:
    """The provider will not deliver this message to this address; sending again is useless."""

    reason: str
    detail: str = ""


class NotSent(Exception):
    """Nothing was sent. ``permanent``: it never will be as things stand (bad key, config)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Ambiguous(Exception):
    """The provider may have taken the message: do not send it again."""
