"""The stand-alone server's logging: uvicorn's own set-up, with every line passed through `HideKeys`.

A caller can put a key anywhere in a URL (a path segment, a query parameter, percent-encoded or not), and
uvicorn's access log writes the URL as it came. Every record is cleaned before any handler writes it.
"""

from __future__ import annotations

import copy
import logging
from typing import Any
from urllib.parse import unquote

from uvicorn.config import LOGGING_CONFIG

from backend.errors import redact

_DECODE_ROUNDS = 3  # a key encoded twice or three times over is still found


def hide_keys(text: str) -> str:
    """`text` with every key blanked out, also one hidden behind percent-encoding (then shown decoded)."""
    clean = redact(text)
    decoded = text
    for _ in range(_DECODE_ROUNDS):
        if "%" not in decoded:
            break
        decoded = unquote(decoded)
        if redact(decoded) != decoded:
            return redact(decoded)
    return clean


class HideKeys(logging.Filter):
    """Blanks keys out of a record's message, its arguments and its traceback; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = hide_keys(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_hide(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {name: _hide(value) for name, value in record.args.items()}
        if record.exc_info and not record.exc_text:
            # Rendered here, so that the handler's formatter writes this cleaned text instead.
            record.exc_text = hide_keys(logging.Formatter().formatException(record.exc_info))
        return True


def _hide(value: Any) -> Any:
    return hide_keys(value) if isinstance(value, str) else value


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration, each handler behind HideKeys, and the server's own loggers too."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"hide_keys": {"()": HideKeys}}
    for handler in config["handlers"].values():
        handler["filters"] = ["hide_keys"]
    config["loggers"]["backend"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
