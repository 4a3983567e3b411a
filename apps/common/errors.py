"""The two kinds of failure a service can raise.

Tasks retry a TransientError with their queue's backoff, and never an
ApplicationError: a refused business rule does not change by waiting.
"""


class ApplicationError(Exception):
    """A business rule refused the operation; retrying will not help."""


class TransientError(Exception):
    """The operation may succeed if tried again later (a timeout, a busy peer)."""
