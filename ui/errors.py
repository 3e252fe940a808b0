"""The one place where an error becomes a message for a person."""

from __future__ import annotations

import logging

from backend.errors import AssistantsError, redact
from ui.context import DemoModeError

log = logging.getLogger(__name__)


def describe_error(err: BaseException) -> str:
    """A message that names the cause and the next step; never a traceback, never the API key."""
    if isinstance(err, AssistantsError):
        return err.user_message
    if isinstance(err, DemoModeError):
        return str(err)
    log.error("Unexpected error in the studio: %s", redact(repr(err)))
    return redact(
        f"Something went wrong in the studio ({type(err).__name__}: {err}). "
        "Try again; if it keeps happening, please report it."
    )
