"""The one place where an error becomes a message for a person: the cause and the next step, never a
traceback, never the API key."""

from __future__ import annotations

import logging

from backend.errors import AssistantsError, StreamError, redact

log = logging.getLogger(__name__)


class StudioError(ValueError):
    """A refusal of the studio's own (bad input, an action that cannot be done), worded for a person and
    shown as it is."""


class ReadOnlyError(StudioError):
    """A change was asked of a studio running as a read-only demo."""

    def __str__(self) -> str:
        return "This is a read-only demo: creating, changing and deleting assistants is turned off."


def describe_error(err: BaseException, *, retry_offered: bool = False) -> str:
    """A message that names the cause and the next step; never a traceback, never the API key.

    `retry_offered`: the page offers its own Retry, so an error whose only advice is to send the request
    again is told without that advice (the page says "Press Retry" once, not twice).
    """
    if isinstance(err, AssistantsError):
        if retry_offered and isinstance(err, StreamError):
            return err.message
        return err.user_message
    if isinstance(err, StudioError):
        return redact(str(err))
    log.error("Unexpected error in the studio: %s", redact(repr(err)))
    return redact(
        f"Something went wrong in the studio ({type(err).__name__}: {err}). "
        "Try again; if it keeps happening, please report it."
    )
