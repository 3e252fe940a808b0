"""Local days and hours in the viewer's time zone, computed by the database.

A zone's offset from UTC is constant between its transitions (daylight saving, changes of law), so the
local time of an instant is `at_ms + offset(at_ms)`, where offset is a step function of the instant: one
CASE over the few transitions inside the time range. The local day is that time divided by a day's
milliseconds, so a day in Europe/Paris on a daylight-saving change holds its 23 or 25 hours exactly, the
same on SQLite and PostgreSQL. Local hours work the same way; the hour repeated when the clocks go back
falls into one bucket, which then holds two hours.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import BigInteger, case, literal

from studio.errors import StudioError

Unit = Literal["day", "hour"]
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
UNIT_MS: dict[Unit, int] = {"day": DAY_MS, "hour": HOUR_MS}
_EPOCH_DAY = date(1970, 1, 1)
_EPOCH = datetime(1970, 1, 1)
# Offsets are sampled this far apart, then each change is pinned to the second. No zone has changed its
# offset twice within six hours since the 1970s.
_SAMPLE_MS = 6 * HOUR_MS


class UnknownZone(StudioError):
    """A time zone name the tz database does not know."""


def zone_names() -> list[str]:
    """Every time zone the studio can show times in, sorted."""
    return sorted(available_timezones())


@functools.lru_cache(maxsize=64)
def zone_named(name: str) -> ZoneInfo:
    """The zone called `name` (an IANA name such as Europe/Paris)."""
    cleaned = (name or "").strip()
    try:
        if not cleaned or cleaned.startswith(("/", ".")):
            raise ValueError(cleaned)
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise UnknownZone(
            f"“{cleaned}” is not a time zone the studio knows: pick one from the list, such as Europe/Paris "
            "or UTC."
        ) from err


def offset_ms(zone: ZoneInfo, at_ms: int) -> int:
    """The zone's offset from UTC at an instant, in milliseconds."""
    offset = datetime.fromtimestamp(at_ms // 1000, zone).utcoffset()
    return int(offset.total_seconds() * 1000) if offset is not None else 0


@dataclass(frozen=True)
class Offsets:
    """A zone's offsets over a span: `values[i]` holds before `changes[i]`, the last value after the last."""

    changes: tuple[int, ...]
    values: tuple[int, ...]


@functools.lru_cache(maxsize=256)
def offsets(zone_name: str, start_ms: int, end_ms: int) -> Offsets:
    """The offsets of a zone between two instants (a day's margin either side)."""
    zone = zone_named(zone_name)
    first, last = start_ms - DAY_MS, end_ms + DAY_MS
    changes: list[int] = []
    values = [offset_ms(zone, first)]
    previous = first
    for sample in range(first + _SAMPLE_MS, last + _SAMPLE_MS, _SAMPLE_MS):
        value = offset_ms(zone, sample)
        if value != values[-1]:
            changes.append(_pin_change(zone, previous, sample, values[-1]))
            values.append(value)
        previous = sample
    return Offsets(tuple(changes), tuple(values))


def _pin_change(zone: ZoneInfo, before_ms: int, after_ms: int, old: int) -> int:
    """The first whole second in (before, after] at which the offset is no longer `old`, in ms."""
    low, high = before_ms // 1000, after_ms // 1000
    while high - low > 1:
        middle = (low + high) // 2
        if offset_ms(zone, middle * 1000) == old:
            low = middle
        else:
            high = middle
    return high * 1000


def bucket_sql(column: Any, zone_name: str, start_ms: int, end_ms: int, unit: Unit) -> Any:
    """The local day (or hour) number of `column`, an epoch-ms column, as a SQL expression."""
    found = offsets(zone_name, start_ms, end_ms)
    shift: Any = literal(found.values[-1], BigInteger)
    if found.changes:
        shift = case(
            *((column < literal(change, BigInteger), literal(value, BigInteger))
              for change, value in zip(found.changes, found.values, strict=False)),
            else_=shift,
        )  # fmt: skip
    return (column + shift) // UNIT_MS[unit]


def bucket_of(at_ms: int, zone_name: str, unit: Unit) -> int:
    """The local day (or hour) number of an instant, as bucket_sql computes it."""
    return (at_ms + offset_ms(zone_named(zone_name), at_ms)) // UNIT_MS[unit]


def bucket_label(number: int, unit: Unit) -> str:
    """A bucket as people read it and as it sorts: 2026-03-29, or 2026-03-29 14:00."""
    if unit == "day":
        return (_EPOCH_DAY + timedelta(days=number)).isoformat()
    return (_EPOCH + timedelta(hours=number)).strftime("%Y-%m-%d %H:00")


def bucket_numbers(start_ms: int, end_ms: int, zone_name: str, unit: Unit) -> Iterator[int]:
    """Every bucket from the one holding `start_ms` to the one holding the last instant before `end_ms`."""
    if end_ms <= start_ms:
        return iter(())
    return iter(range(bucket_of(start_ms, zone_name, unit), bucket_of(end_ms - 1, zone_name, unit) + 1))


def local_midnight(day: date, zone_name: str) -> int:
    """The first instant of a local date, in epoch ms (a midnight skipped by a clock change: the first
    instant after it)."""
    start = datetime.combine(day, time(0), tzinfo=zone_named(zone_name))
    return int(start.timestamp() * 1000)


def local_date(at_ms: int, zone_name: str) -> date:
    """The local date of an instant."""
    return datetime.fromtimestamp(at_ms / 1000, zone_named(zone_name)).date()


def local_text(at_ms: int, zone_name: str) -> str:
    """An instant as a local date and time, e.g. 2026-03-29 14:05."""
    return datetime.fromtimestamp(at_ms / 1000, zone_named(zone_name)).strftime("%Y-%m-%d %H:%M")
