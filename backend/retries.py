"""When to send a request again, and how long to wait first. Pure decisions; the clients do the sleeping."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum

from backend.errors import APIStatusError, AssistantsError

BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0

# Statuses that say the server refused before doing anything: retried whatever the method...
RETRY_ANY_METHOD = frozenset({429, 503})
# ...but a 503 proves it only with the contract's body: a proxy's 503 may follow a processed request.
REFUSAL_CODES = {503: "model_unavailable"}
# Statuses worth another try only when sending twice does no harm.
RETRY_IDEMPOTENT = frozenset({500, 502, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class Delivery(Enum):
    """How far a failed attempt got, which decides whether sending again is safe."""

    NOT_SENT = "not_sent"  # no connection was made: the server never saw the request
    MAYBE_RECEIVED = "maybe_received"  # it may have reached the server: only idempotent calls go again
    FATAL = "fatal"  # another try cannot help (e.g. a malformed base URL)


def backoff(attempt: int, jitter: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter: a random wait up to base * 2**attempt, capped."""
    return jitter() * min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt)


def parse_retry_after(value: object, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header or body field: a number of seconds or an HTTP date."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return max(0.0, float(value))
    text = str(value).strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now())


@dataclass
class Retrying:
    """The retry state of one call: counts attempts and decides about each failure."""

    method: str
    max_retries: int = 2
    retry_max_wait: float = 20.0
    jitter: Callable[[], float] = random.random
    retries: int = 0
    #: An earlier attempt may have reached the server (so a DELETE's 404 can mean "already done").
    maybe_received: bool = False

    def wait_before_retry(self, error: AssistantsError, delivery: Delivery) -> float | None:
        """Seconds to wait before sending again, or None: give up and raise `error`."""
        if delivery is Delivery.MAYBE_RECEIVED and not refused_before_processing(error):
            self.maybe_received = True
        if not self._may_retry(error, delivery) or self.retries >= self.max_retries:
            return None
        asked = retry_after_of(error)
        if asked is not None and asked > self.retry_max_wait:
            return None  # the server asks for longer than we will wait: let the person decide
        wait = asked if asked is not None else backoff(self.retries, self.jitter)
        self.retries += 1
        return wait

    def _may_retry(self, error: AssistantsError, delivery: Delivery) -> bool:
        idempotent = self.method.upper() in IDEMPOTENT_METHODS
        if isinstance(error, APIStatusError):
            if idempotent:
                return error.status_code in RETRY_ANY_METHOD | RETRY_IDEMPOTENT
            return refused_before_processing(error)
        if delivery is Delivery.NOT_SENT:
            return True
        return delivery is Delivery.MAYBE_RECEIVED and idempotent


def refused_before_processing(error: AssistantsError) -> bool:
    """Whether the server said it refused the request before doing anything with it."""
    if not isinstance(error, APIStatusError) or error.status_code not in RETRY_ANY_METHOD:
        return False
    wanted = REFUSAL_CODES.get(error.status_code)
    # `error.code` falls back to the class's default code; only the body says what the server sent.
    return wanted is None or error.body.get("error") == wanted


def retry_after_of(error: AssistantsError) -> float | None:
    """The wait a status error asks for (the client stores the parsed Retry-After in its body)."""
    if not isinstance(error, APIStatusError) or error.status_code not in RETRY_ANY_METHOD:
        return None
    return parse_retry_after(error.body.get("retry_after"))
