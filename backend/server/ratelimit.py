"""Per-key request limits on rolling hourly and daily windows, and the X-RateLimit-* headers."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from backend.settings import Settings

HOUR = 3600.0
DAY = 86400.0

# Requests per hour and per day, by plan (the docs); None is unlimited.
PLAN_LIMITS: dict[str, tuple[int | None, int | None]] = {
    "Starter": (5, 20),
    "Basic": (30, 200),
    "Pro": (60, 500),
    "VIP": (100, 1000),
    "Elite": (None, None),
}


@dataclass(frozen=True)
class Refusal:
    """Why a request was refused: which window is full and how long until a slot frees."""

    retry_after: int
    window: str  # "hour" or "day"


class RateLimiter:
    """Counts requests per key; `hit` records one unless a window is full."""

    def __init__(
        self, plan: str, limit_hour: int | None, limit_day: int | None, clock: Callable[[], float] = time.time
    ) -> None:
        self.plan = plan
        self.limit_hour = limit_hour
        self.limit_day = limit_day
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        hour, day = PLAN_LIMITS.get(settings.local_plan, (None, None))
        return cls(
            settings.local_plan,
            settings.local_rate_limit_hour or hour,
            settings.local_rate_limit_day or day,
        )

    @property
    def unlimited(self) -> bool:
        return self.limit_hour is None and self.limit_day is None

    def _window(self, key: str, now: float) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - DAY:
            hits.popleft()
        return hits

    def hit(self, key: str) -> Refusal | None:
        """Record a request by `key`; a Refusal (and nothing recorded) when a window is full."""
        if self.unlimited:
            return None
        with self._lock:
            now = self._clock()
            hits = self._window(key, now)
            waits: list[tuple[float, str]] = []
            if self.limit_day is not None and len(hits) >= self.limit_day:
                waits.append((hits[-self.limit_day] + DAY - now, "day"))
            if self.limit_hour is not None:
                in_hour = [t for t in hits if t > now - HOUR]
                if len(in_hour) >= self.limit_hour:
                    waits.append((in_hour[-self.limit_hour] + HOUR - now, "hour"))
            if waits:
                wait, window = max(waits)
                return Refusal(retry_after=max(1, math.ceil(wait)), window=window)
            hits.append(now)
            return None

    def headers(self, key: str | None) -> dict[str, str]:
        """The X-RateLimit-* headers for `key` (None: a caller not yet known, with nothing used)."""
        with self._lock:
            now = self._clock()
            hits = self._window(key, now) if key is not None else deque()
            in_hour = [t for t in hits if t > now - HOUR]
            reset = math.ceil((in_hour[0] if in_hour else now) + HOUR)

            def pair(limit: int | None, used: int) -> tuple[str, str]:
                if limit is None:
                    return "unlimited", "unlimited"
                return str(limit), str(max(0, limit - used))

            limit_hour, remaining_hour = pair(self.limit_hour, len(in_hour))
            limit_day, remaining_day = pair(self.limit_day, len(hits))
        return {
            "X-RateLimit-Limit-Hour": limit_hour,
            "X-RateLimit-Remaining-Hour": remaining_hour,
            "X-RateLimit-Limit-Day": limit_day,
            "X-RateLimit-Remaining-Day": remaining_day,
            "X-RateLimit-Reset-Hour": str(reset),
        }
