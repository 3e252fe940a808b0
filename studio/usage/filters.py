"""What the usage view looks at: a time range in the viewer's time zone, and the log's other filters.

Ranges of days start at a local midnight, so "the last 7 days" is today and the six days before it, in
full, whatever the zone. Dates typed by a person are checked, and a mistake is named with the way out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, literal

from studio.errors import StudioError
from studio.store.schema import generations
from studio.usage.zones import DAY_MS, Unit, local_date, local_midnight, local_text, zone_named

Origin = Literal["playground", "compare", "test"]
ORIGINS: tuple[Origin, ...] = ("playground", "compare", "test")
# The assistant key of a call made without one of my assistants (a marketplace one, a blank chat): its name
# behind this mark, which no assistant id starts with.
UNSAVED = "~"

# A range's name -> how many local days it covers (hours for the first); None: the whole log.
PRESETS: dict[str, tuple[int, Unit] | None] = {
    "Last 24 hours": (24, "hour"),
    "Last 7 days": (7, "day"),
    "Last 30 days": (30, "day"),
    "Last 90 days": (90, "day"),
    "Last 12 months": (365, "day"),
    "All time": None,
}
BETWEEN = "Between dates"
RANGES = [*PRESETS, BETWEEN]
DEFAULT_RANGE = "Last 30 days"
# Up to this long a range is shown by the hour.
HOURLY_UP_TO_MS = 2 * DAY_MS


class UsageInputError(StudioError):
    """A filter the usage view cannot use as typed; the message says what to type instead."""


@dataclass(frozen=True)
class UsageFilter:
    """Which generations to aggregate, and the zone and unit of the buckets."""

    start_ms: int | None = None  # None: from the first logged generation
    end_ms: int | None = None  # exclusive; None: up to now
    zone: str = "UTC"
    unit: Unit = "day"
    server: str | None = None  # None: every server
    assistant: str | None = None  # a lineage, or UNSAVED + a name; None: every assistant
    version: int | None = None
    model: str | None = None
    origins: tuple[str, ...] = ()  # (): every origin

    def spanning(self, first_ms: int, now: int) -> UsageFilter:
        """The same filter with both ends fixed: an open start becomes the local midnight before the first
        generation, an open end now."""
        start = self.start_ms
        if start is None:
            start = local_midnight(local_date(first_ms, self.zone), self.zone)
        return replace(self, start_ms=start, end_ms=self.end_ms if self.end_ms is not None else now)


def parse_day(text: str, which: str) -> date | None:
    """A date typed as YYYY-MM-DD; "" is none."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    try:
        return date.fromisoformat(cleaned)
    except ValueError as err:
        raise UsageInputError(
            f"The “{which}” date “{cleaned}” is not a date: write it as YYYY-MM-DD, e.g. 2026-03-29."
        ) from err


def time_range(
    choice: str, zone: str, now_ms: int, *, start_text: str = "", end_text: str = ""
) -> tuple[int | None, int | None, Unit]:
    """(start, end, unit) of a named range, or of two typed dates (both included) with BETWEEN; None: the
    range is open at that end."""
    zone_named(zone)  # an unknown zone is refused before anything else
    today = local_date(now_ms, zone)
    if choice == BETWEEN:
        first, last = parse_day(start_text, "From"), parse_day(end_text, "To")
        if first and last and first > last:
            raise UsageInputError(
                f"“From” ({first}) is after “To” ({last}): swap them, or clear one to leave that end open."
            )
        start = local_midnight(first, zone) if first else None
        end = local_midnight((last or today) + timedelta(days=1), zone)
        return start, end, "hour" if start is not None and end - start <= HOURLY_UP_TO_MS else "day"
    if choice not in PRESETS:
        raise UsageInputError(f"“{choice}” is not a time range: pick one of {', '.join(RANGES)}.")
    preset = PRESETS[choice]
    if preset is None:
        return None, None, "day"
    count, unit = preset
    if unit == "hour":
        return now_ms - count * 3_600_000, now_ms, "hour"
    return local_midnight(today - timedelta(days=count - 1), zone), now_ms, "day"


def describe_range(flt: UsageFilter) -> str:
    """The range as a person reads it, e.g. "2026-03-01 00:00 to 2026-03-30 14:05 (Europe/Paris)"."""
    start = "the first generation" if flt.start_ms is None else local_text(flt.start_ms, flt.zone)
    end = "now" if flt.end_ms is None else local_text(flt.end_ms, flt.zone)
    return f"{start} to {end} ({flt.zone})"


def assistant_key() -> Any:
    """The assistant a call is filed under: its lineage, or the name of an assistant that is not mine."""
    return func.coalesce(generations.c.lineage, literal(UNSAVED) + generations.c.assistant_name)


def conditions(flt: UsageFilter, *, time_column: Any = None, table: Any = generations) -> list[Any]:
    """The WHERE clauses of a filter on the generation log."""
    column = table.c.at_ms if time_column is None else time_column
    found: list[Any] = []
    if flt.start_ms is not None:
        found.append(column >= flt.start_ms)
    if flt.end_ms is not None:
        found.append(column < flt.end_ms)
    if flt.server is not None:
        found.append(table.c.server == flt.server)
    if flt.assistant is not None:
        if flt.assistant.startswith(UNSAVED):
            found.append(and_(table.c.lineage.is_(None), table.c.assistant_name == flt.assistant[1:]))
        else:
            found.append(table.c.lineage == flt.assistant)
    if flt.version is not None:
        found.append(table.c.version == flt.version)
    if flt.model is not None:
        found.append(table.c.model == flt.model)
    if flt.origins and set(flt.origins) != set(ORIGINS):
        found.append(table.c.origin.in_(list(flt.origins)))
    return found


def build_filter(
    *,
    range_choice: str,
    zone: str,
    now_ms: int,
    start_text: str = "",
    end_text: str = "",
    server: str = "",
    assistant: str = "",
    version: str | int | None = "",
    model: str = "",
    origins: list[str] | tuple[str, ...] = ORIGINS,
) -> UsageFilter:
    """The filter the usage view's controls describe ("" for "all"); raises UsageInputError or
    UnknownZone with what to change."""
    zone = (zone or "").strip() or "UTC"
    start, end, unit = time_range(
        range_choice or DEFAULT_RANGE, zone, now_ms, start_text=start_text, end_text=end_text
    )
    chosen = tuple(origin for origin in ORIGINS if origin in set(origins or ()))
    if not chosen:
        raise UsageInputError(
            "Tick at least one of Playground, Compare and Test runs: with none ticked there is nothing to show."
        )
    text = str(version if version is not None else "").strip().lstrip("vV")
    try:
        number = int(text) if text else None
    except ValueError as err:
        raise UsageInputError(f"“{version}” is not a version number: pick one from the list.") from err
    return UsageFilter(
        start, end, zone, unit, server=server or None, assistant=assistant or None, version=number,
        model=model or None, origins=chosen,
    )  # fmt: skip
