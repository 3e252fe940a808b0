"""The usage view's aggregations over the generation log: tokens, latency, failures and the balance.

Sums, counts and local days (or hours, `studio.usage.zones`) are computed by the database, in one query
per view over the filter's rows. Percentiles are by nearest rank (`nearest_rank`), the same on both
databases: PostgreSQL ranks in SQL, SQLite streams the times out to be ranked here (`percentile_rows`).
Assistants are grouped by lineage, so one deleted and brought back stays one line, under the name it last
ran with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, and_, case, func, literal, select

from studio.store.database import Database
from studio.store.history import now_ms
from studio.store.schema import generations
from studio.usage.filters import UNSAVED, UsageFilter, assistant_key, conditions
from studio.usage.zones import DAY_MS, Unit, bucket_label, bucket_numbers, bucket_sql

GroupBy = Literal["assistant", "version", "model"]
Method = Literal["sql", "stream"]
NO_ASSISTANT = "No assistant (a blank chat)"
UNKNOWN_ERROR = "unknown"
# Percentiles shown, in percent.
PERCENTILES = (50, 95)
# The balance lasts as long as the tokens charged over this many recent days, per day, allow.
RATE_DAYS = 7


def nearest_rank(values: Iterable[float], percent: int) -> float | None:
    """The nearest-rank percentile: the smallest value with at least `percent`% of the values at or below
    it, i.e. the value at rank ceil(percent/100 × n) of the sorted values. Always one of the values, never
    interpolated, so SQLite and PostgreSQL give the same answer. None for no values."""
    return _at_rank(sorted(values), percent)


def _at_rank(ordered: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile of values already sorted; ceil in integers, free of float rounding."""
    if not ordered:
        return None
    return ordered[max(1, (percent * len(ordered) + 99) // 100) - 1]


# --- Results ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    """The log as a whole, and the filter's share of it."""

    logged: int  # every generation in the log (on the filter's server)
    first_ms: int | None
    last_ms: int | None
    calls: int  # within the filter
    tokens: int
    failed: int
    stopped: int


@dataclass(frozen=True)
class Options:
    """What the filters can be set to, from the whole log."""

    servers: list[str]
    assistants: list[tuple[str, str]]  # (key, name), by name
    models: list[str]
    versions: list[int]  # of the assistant asked about


@dataclass(frozen=True)
class TokenCell:
    bucket: str
    key: str
    name: str
    tokens: int
    calls: int


@dataclass(frozen=True)
class TokensOverTime:
    unit: Unit
    buckets: list[str]  # every bucket of the range, empty ones too
    cells: list[TokenCell]  # only the buckets with calls


@dataclass(frozen=True)
class LatencyRow:
    key: str
    name: str
    calls: int  # completed calls, the ones timed
    p50_ms: float | None
    p95_ms: float | None
    first_p50_ms: float | None
    first_p95_ms: float | None


@dataclass(frozen=True)
class FailureCell:
    bucket: str
    error_class: str
    failures: int


@dataclass(frozen=True)
class FailuresOverTime:
    unit: Unit
    buckets: list[str]
    calls: dict[str, int]  # every call per bucket, for the failure rate
    cells: list[FailureCell]


@dataclass(frozen=True)
class BalancePoint:
    bucket: str
    server: str
    balance: int  # after the last charged call of the bucket


@dataclass(frozen=True)
class Outlook:
    """How long a server's balance lasts at the recent rate."""

    server: str
    balance: int  # the latest known
    at_ms: int
    per_day: float  # tokens charged per day over the last RATE_DAYS days (fewer if the log is younger)
    rate_days: float
    days_left: float | None  # None: nothing charged lately, so it does not run out


@dataclass(frozen=True)
class BalanceOverTime:
    unit: Unit
    points: list[BalancePoint]
    outlooks: list[Outlook]


# --- Queries ---------------------------------------------------------------------------------------------


def fix_span(connection: Connection, flt: UsageFilter, now: int | None = None) -> UsageFilter | None:
    """The filter with both ends fixed (an open start: the first logged generation), for the buckets; None:
    an empty log. Rows are still chosen by the open filter: a bound that holds for every row would make
    the database walk the time index instead of reading the table straight through."""
    if flt.start_ms is not None and flt.end_ms is not None:
        return flt
    clauses = [generations.c.server == flt.server] if flt.server is not None else []
    first = connection.scalar(select(func.min(generations.c.at_ms)).where(*clauses))
    if first is None:
        return None
    return flt.spanning(int(first), now if now is not None else now_ms())


def overview(db: Database, flt: UsageFilter) -> Overview:
    """How many generations the log holds, and the calls, tokens and failures within the filter."""
    g = generations.c
    on_server = [g.server == flt.server] if flt.server is not None else []
    with db.read() as connection:
        logged, first, last = connection.execute(
            select(func.count(), func.min(g.at_ms), func.max(g.at_ms)).where(*on_server)
        ).one()
        calls, tokens, failed, stopped = connection.execute(
            select(
                func.count(),
                func.coalesce(func.sum(g.tokens_used), 0),
                func.coalesce(func.sum(case((g.outcome == "failed", 1), else_=0)), 0),
                func.coalesce(func.sum(case((g.outcome == "stopped", 1), else_=0)), 0),
            ).where(*conditions(flt))
        ).one()
    return Overview(int(logged), first, last, int(calls), int(tokens), int(failed), int(stopped))


def options(db: Database, server: str | None = None, assistant: str | None = None) -> Options:
    """The servers, assistants (with their latest names), models and versions the log holds."""
    g = generations.c
    on_server = [g.server == server] if server is not None else []
    with db.read() as connection:
        servers = distinct(connection, g.server)
        keys = distinct(connection, g.lineage, *on_server)
        keys += [UNSAVED + name for name in connection.scalars(
            select(g.assistant_name).where(*on_server, g.lineage.is_(None)).distinct())]  # fmt: skip
        if server is not None:
            models = distinct(connection, g.model, *on_server)
        else:  # no index leads with the model: one pass
            models = list(connection.scalars(select(g.model).distinct().order_by(g.model)))
        versions: list[int] = []
        if assistant and not assistant.startswith(UNSAVED):
            versions = list(connection.scalars(
                select(g.version).where(*on_server, g.lineage == assistant, g.version.is_not(None))
                .distinct().order_by(g.version)))  # fmt: skip
        names = _names(connection, keys, server)
    assistants = sorted(((k, names[k]) for k in keys), key=lambda pair: (pair[1].casefold(), pair[0]))
    return Options(servers, assistants, models, versions)


def tokens_over_time(
    db: Database, flt: UsageFilter, by: Literal["assistant", "model"] = "assistant", *, now: int | None = None
) -> TokensOverTime:
    """Tokens charged (and calls) per local day or hour, split by assistant or model."""
    g = generations.c
    with db.read() as connection:
        fixed = fix_span(connection, flt, now)
        if fixed is None:
            return TokensOverTime(flt.unit, [], [])
        bucket = _bucket(fixed)
        key = assistant_key() if by == "assistant" else g.model
        rows = connection.execute(
            select(bucket, key, func.sum(g.tokens_used), func.count())
            .where(*conditions(flt))
            .group_by(bucket, key)
        ).all()
        names = _names(connection, {row[1] for row in rows}, fixed.server) if by == "assistant" else {}
    cells = [
        TokenCell(bucket_label(number, fixed.unit), found, names.get(found, found), int(tokens or 0), calls)
        for number, found, tokens, calls in sorted(rows, key=lambda row: (row[0], str(row[1])))
    ]
    return TokensOverTime(fixed.unit, _labels(fixed), cells)


def latency(db: Database, flt: UsageFilter, by: GroupBy = "assistant") -> list[LatencyRow]:
    """p50 and p95 of the total time and of the time to first token of completed calls, per assistant,
    version or model; the slowest p95 first."""
    g = generations.c
    keys = {"assistant": [assistant_key()], "version": [assistant_key(), g.version], "model": [g.model]}[by]
    with db.read() as connection:
        rows = percentile_rows(connection, keys, [*conditions(flt), g.outcome == "completed"])
        names = _names(connection, {row[0] for row in rows}, flt.server) if by != "model" else {}
    found = [
        LatencyRow(
            key=_join_key(row[: len(keys)]),
            name=_version_name(row[0], names[row[0]], row[1])
            if by == "version"
            else names.get(row[0], row[0]),
            calls=int(row[len(keys)]),
            p50_ms=row[len(keys) + 1],
            p95_ms=row[len(keys) + 2],
            first_p50_ms=row[len(keys) + 3],
            first_p95_ms=row[len(keys) + 4],
        )
        for row in rows
    ]
    return sorted(found, key=lambda r: (-(r.p95_ms or 0.0), r.name))


def failures_over_time(db: Database, flt: UsageFilter, *, now: int | None = None) -> FailuresOverTime:
    """Failed calls per local day or hour, by error class, with every call's count for the rate."""
    g = generations.c
    with db.read() as connection:
        fixed = fix_span(connection, flt, now)
        if fixed is None:
            return FailuresOverTime(flt.unit, [], {}, [])
        bucket = _bucket(fixed)
        failure = case(
            (g.outcome == "failed", func.coalesce(g.error_class, literal(UNKNOWN_ERROR))), else_=None
        )
        rows = connection.execute(
            select(bucket, failure, func.count()).where(*conditions(flt)).group_by(bucket, failure)
        ).all()
    calls: dict[str, int] = {}
    cells: list[FailureCell] = []
    for number, error_class, count in sorted(rows, key=lambda row: (row[0], str(row[1] or ""))):
        label = bucket_label(number, fixed.unit)
        calls[label] = calls.get(label, 0) + int(count)
        if error_class is not None:
            cells.append(FailureCell(label, error_class, int(count)))
    return FailuresOverTime(fixed.unit, _labels(fixed), calls, cells)


def balance_over_time(db: Database, flt: UsageFilter, *, now: int | None = None) -> BalanceOverTime:
    """The balance after the last charged call of each local day or hour, per server, and how long the
    latest balance lasts at the rate of the last RATE_DAYS days. The balance belongs to the account, so
    only the time range and the server apply, not the assistant, model or origin."""
    g = generations.c
    now = now if now is not None else now_ms()
    account = UsageFilter(flt.start_ms, flt.end_ms, flt.zone, flt.unit, server=flt.server)
    with db.read() as connection:
        fixed = fix_span(connection, account, now)
        if fixed is None:
            return BalanceOverTime(flt.unit, [], [])
        bucket = _bucket(fixed).label("bucket")
        known = [*conditions(account), g.balance_after.is_not(None)]
        last = (
            select(g.server, bucket, func.max(g.at_ms).label("at_ms"))
            .where(*known)
            .group_by(g.server, bucket)
        ).subquery()
        rows = connection.execute(
            select(last.c.server, last.c.bucket, func.min(g.balance_after))
            .join_from(last, generations, and_(g.server == last.c.server, g.at_ms == last.c.at_ms))
            .where(g.balance_after.is_not(None))
            .group_by(last.c.server, last.c.bucket)
            .order_by(last.c.bucket, last.c.server)
        ).all()
        outlooks = [_outlook(connection, server, now) for server in sorted({row[0] for row in rows})]
    points = [
        BalancePoint(bucket_label(number, fixed.unit), server, int(value)) for server, number, value in rows
    ]
    return BalanceOverTime(fixed.unit, points, [o for o in outlooks if o is not None])


# --- The parts of the queries ---------------------------------------------------------------------------


def _bucket(flt: UsageFilter) -> Any:
    assert flt.start_ms is not None and flt.end_ms is not None
    return bucket_sql(generations.c.at_ms, flt.zone, flt.start_ms, flt.end_ms, flt.unit)


def _labels(flt: UsageFilter) -> list[str]:
    assert flt.start_ms is not None and flt.end_ms is not None
    return [bucket_label(n, flt.unit) for n in bucket_numbers(flt.start_ms, flt.end_ms, flt.zone, flt.unit)]


def percentile_rows(
    connection: Connection, keys: Sequence[Any], where: list[Any], method: Method | None = None
) -> list[tuple[Any, ...]]:
    """Per group of `keys`: (keys..., count, total p50, total p95, first-token p50, first-token p95), by
    nearest rank. PostgreSQL ranks in SQL (percentile_disc); SQLite has no such aggregate, and its window
    functions take 4 times as long as streaming each group's times out and ranking them here
    (BENCHMARKS.md). The tests check both against hand-computed values."""
    method = method or ("stream" if connection.dialect.name == "sqlite" else "sql")
    return (
        _ranked_in_sql(connection, keys, where) if method == "sql" else _ranked_here(connection, keys, where)
    )


def _ranked_in_sql(connection: Connection, keys: Sequence[Any], where: list[Any]) -> list[tuple[Any, ...]]:
    """PostgreSQL's percentile_disc is the nearest rank: the first value whose rank reaches ceil(p × n).
    NULLs are left out, as they are of the first-token times here."""
    g = generations.c
    picks = [func.percentile_disc(p / 100).within_group(g.total_ms) for p in PERCENTILES]
    picks += [func.percentile_disc(p / 100).within_group(g.first_token_ms) for p in PERCENTILES]
    rows = connection.execute(select(*keys, func.count(), *picks).where(*where).group_by(*keys))
    return [tuple(row) for row in rows]


def _ranked_here(connection: Connection, keys: Sequence[Any], where: list[Any]) -> list[tuple[Any, ...]]:
    g = generations.c
    totals: dict[Any, list[float]] = {}
    firsts: dict[Any, list[float]] = {}
    width = len(keys)
    result = connection.execute(select(*keys, g.total_ms, g.first_token_ms).where(*where))
    # The DBAPI cursor itself, not SQLAlchemy's rows: this streams every timed call of the range, and row
    # objects took half of the time.
    rows: Iterable[Any] = result.cursor
    if width > 1:
        rows = ((tuple(row[:width]), row[width], row[width + 1]) for row in rows)
    for group, total, first in rows:  # the hot loop of the view on SQLite: kept bare
        found = totals.get(group)
        if found is None:
            found = totals[group] = []
            firsts[group] = []
        found.append(total)
        if first is not None:
            firsts[group].append(first)
    result.close()
    ranked = []
    for group, values in totals.items():
        values.sort()
        first = sorted(firsts[group])
        parts = group if width > 1 else (group,)
        ranked.append((*parts, len(values), *(_at_rank(values, p) for p in PERCENTILES),
                       *(_at_rank(first, p) for p in PERCENTILES)))  # fmt: skip
    return ranked


def distinct(connection: Connection, column: Any, *where: Any) -> list[Any]:
    """The distinct non-NULL values of a column, in order, by hopping through an index from each value to
    the next (a recursive query): a handful of index look-ups instead of reading every row, on SQLite and
    PostgreSQL alike. Needs an index whose leading columns are those `where` fixes, then `column`."""
    first = select(func.min(column).label("value")).where(*where).cte("found", recursive=True)
    previous = first.alias("previous")
    following = select(func.min(column)).where(*where, column > previous.c.value).scalar_subquery()
    found = first.union_all(select(following).where(previous.c.value.is_not(None)))
    return list(connection.scalars(select(found.c.value).where(found.c.value.is_not(None))))


def _names(connection: Connection, keys: Iterable[Any], server: str | None) -> dict[str, str]:
    """The name each assistant key last ran with (an index look-up per assistant of mine)."""
    g = generations.c
    names: dict[str, str] = {}
    for key in keys:
        if key is None:
            continue
        if key.startswith(UNSAVED):
            names[key] = key[len(UNSAVED) :] or NO_ASSISTANT
            continue
        on_server = [g.server == server] if server is not None else []
        latest = connection.scalar(
            select(g.assistant_name).where(g.lineage == key, *on_server).order_by(g.at_ms.desc()).limit(1)
        )
        names[key] = latest or key
    return names


def _outlook(connection: Connection, server: str, now: int) -> Outlook | None:
    """The server's latest balance, and the days it lasts at the rate of the last RATE_DAYS days."""
    g = generations.c
    latest = connection.execute(
        select(g.balance_after, g.at_ms)
        .where(g.server == server, g.balance_after.is_not(None))
        .order_by(g.at_ms.desc())
        .limit(1)
    ).first()
    if latest is None:
        return None
    since = now - RATE_DAYS * DAY_MS
    first = connection.scalar(select(func.min(g.at_ms)).where(g.server == server)) or now
    charged = connection.scalar(
        select(func.coalesce(func.sum(g.tokens_used), 0)).where(g.server == server, g.at_ms >= since)
    )
    # A log younger than the window counts its own age, and never less than a day.
    days = max(min(RATE_DAYS, (now - int(first)) / DAY_MS), 1.0)
    per_day = int(charged or 0) / days
    balance = int(latest[0])
    days_left = balance / per_day if per_day > 0 else None
    return Outlook(server, balance, int(latest[1]), per_day, days, days_left)


def _join_key(parts: Sequence[Any]) -> str:
    return " v".join("?" if part is None else str(part) for part in parts)


def _version_name(key: str, name: str, version: int | None) -> str:
    if key.startswith(UNSAVED):
        return name  # not one of mine: no versions
    return f"{name} v{version}" if version is not None else f"{name} (version unknown)"
