"""The Usage view's queries over 100,000 logged generations (90 days, 14 assistants, 5 models), on SQLite
and on a throwaway PostgreSQL cluster.

Each query is the one the view runs (studio.usage), with the view's default filter (the last 30 days on
the studio's server, by local day in Europe/Paris) and with the widest one (all time, every server). The
baseline, in the same run and alternating with them, is the least any such query can cost: a count and a
sum over the same rows (the default filter's, or all 100,000). A last row per database compares the way the view ranks percentiles with the other
way: on SQLite streamed out against window functions, on PostgreSQL percentile_disc against streamed out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import case, func, select

from bench.common import Row, fmt_ms, median, ms, p95, rounds_of, store_urls
from bench.usage_log import ASSISTANTS, LOCAL, fill
from studio import usage
from studio.store import StoreHandle
from studio.store.database import Database
from studio.store.history import now_ms
from studio.store.schema import generations
from studio.usage import UsageFilter
from studio.usage.filters import assistant_key, conditions
from studio.usage.queries import percentile_rows

COUNT = 100_000
GOAL_MS = 200.0
ZONE = "Europe/Paris"


def queries(db: Database, now: int) -> dict[str, Callable[[], Any]]:
    """The view's queries, by name, over the default filter and the widest one."""
    start, end, unit = usage.time_range(usage.DEFAULT_RANGE, ZONE, now)
    default = UsageFilter(start, end, ZONE, unit, server=LOCAL)
    widest = UsageFilter(None, now, ZONE, "day")
    one = UsageFilter(start, end, ZONE, unit, server=LOCAL, assistant=ASSISTANTS[3])
    return {
        "summary": lambda: usage.overview(db, default),
        "filter choices": lambda: usage.options(db, LOCAL, ASSISTANTS[3]),
        "tokens per day": lambda: usage.tokens_over_time(db, default, "assistant"),
        "latency per assistant": lambda: usage.latency(db, default, "assistant"),
        "latency per version": lambda: usage.latency(db, default, "version"),
        "failures per day": lambda: usage.failures_over_time(db, default),
        "versions of one assistant": lambda: usage.compare_versions(db, one),
        "balance": lambda: usage.balance_over_time(db, default, now=now),
        "tokens per day, all time, every server": lambda: usage.tokens_over_time(db, widest, "assistant"),
        "latency per assistant, all time, every server": lambda: usage.latency(db, widest, "assistant"),
    }


def window_percentiles(connection: Any, where: list[Any]) -> list[Any]:
    """Nearest-rank p50 and p95 with window functions, the one way SQLite can rank in SQL: the view's
    alternative on SQLite, measured to show why it streams instead."""
    g, key = generations.c, assistant_key()
    ranked = select(
        key.label("k"), g.total_ms, func.count().over(partition_by=key).label("n"),
        func.row_number().over(partition_by=key, order_by=g.total_ms).label("r"),
    ).where(*where).subquery()  # fmt: skip
    r = ranked.c
    picks = [func.max(case((r.r == (p * r.n + 99) // 100, r.total_ms), else_=None)) for p in (50, 95)]
    return list(connection.execute(select(r.k, *picks).group_by(r.k)))


def baseline(db: Database, flt: UsageFilter) -> float:
    """The floor: count and sum the filter's rows."""
    started = time.perf_counter()
    with db.read() as connection:
        connection.execute(
            select(func.count(), func.sum(generations.c.tokens_used)).where(*conditions(flt))
        ).one()
    return time.perf_counter() - started


def timed(action: Callable[[], Any]) -> Callable[[], float]:
    def run() -> float:
        started = time.perf_counter()
        action()
        return time.perf_counter() - started

    return run


def measure(url: str, rounds: int, budget_s: float) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Seconds per call of each query and of the baseline; and of the two percentile methods."""
    handle = StoreHandle(url)
    try:
        db = handle.get().db
        now = now_ms()
        fill(db, COUNT, now)
        if not db.is_sqlite:
            with db.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE generations")
                connection.commit()
        named = queries(db, now)
        start, end, unit = usage.time_range(usage.DEFAULT_RANGE, ZONE, now)
        default = UsageFilter(start, end, ZONE, unit, server=LOCAL)
        subjects = {name: timed(action) for name, action in named.items()}
        subjects["baseline"] = lambda: baseline(db, default)
        subjects["baseline, all"] = lambda: baseline(db, UsageFilter(None, None, ZONE))
        for action in subjects.values():  # warm the caches once
            action()
        results = rounds_of(subjects, rounds, budget_s)
        where = [*conditions(default), generations.c.outcome == "completed"]

        def ranked(method: str) -> Callable[[], float]:
            def run() -> float:
                started = time.perf_counter()
                with db.read() as connection:
                    if method == "window":
                        window_percentiles(connection, where)
                    else:
                        percentile_rows(connection, [assistant_key()], where, method)  # type: ignore[arg-type]
                return time.perf_counter() - started

            return run

        other = "window" if db.is_sqlite else "stream"
        chosen = "stream" if db.is_sqlite else "sql"
        methods = rounds_of(
            {"chosen": ranked(chosen), "other": ranked(other)}, max(rounds // 2, 3), budget_s / 2
        )
        return results, methods
    finally:
        handle.close()


def run(quick: bool = False) -> list[Row]:
    """p95 of each query against the count-and-sum floor, on SQLite and PostgreSQL."""
    rounds, budget = (5, 60.0) if quick else (30, 300.0)
    rows: list[Row] = []
    with store_urls() as urls:
        if "PostgreSQL" not in urls:
            rows.append(Row("usage on PostgreSQL", "-", "skipped", "-", None, "PostgreSQL could not start"))
        for label, url in urls.items():
            results, methods = measure(url, rounds, budget)
            floors = {
                "default": ms(p95(results.pop("baseline"))),
                "all": ms(p95(results.pop("baseline, all"))),
            }
            for name, times in results.items():
                took = ms(p95(times))
                floor = floors["all" if "all time" in name else "default"]
                judged = label == "SQLite"
                rows.append(
                    Row(
                        what=f"usage {COUNT:,}: {name} ({label})",
                        baseline=f"count+sum p95 {fmt_ms(floor)}",
                        measured=f"p95 {fmt_ms(took)} = {took / floor:.1f}x",
                        goal=f"p95 <= {GOAL_MS:g} ms" if judged else "(reported)",
                        met=took <= GOAL_MS if judged else None,
                        note=f"{len(times)} runs; median {fmt_ms(ms(median(times)))}",
                    )
                )
            chosen, other = ms(median(methods["chosen"])), ms(median(methods["other"]))
            rows.append(
                Row(
                    what=f"usage {COUNT:,}: percentiles as the view ranks them ({label})",
                    baseline=f"{'SQL window functions' if label == 'SQLite' else 'streamed out'} {fmt_ms(other)}",
                    measured=f"{'streamed out' if label == 'SQLite' else 'percentile_disc'} {fmt_ms(chosen)} "
                    f"= {chosen / other:.2f}x",
                    goal="(chooses the method)",
                    met=None,
                    note=f"median of {len(methods['chosen'])}; latency per assistant, the last 30 days",
                )
            )
    return rows
