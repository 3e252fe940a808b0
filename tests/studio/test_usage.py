"""Usage aggregations on known logs written straight into the store, on SQLite and PostgreSQL: nearest-rank
percentiles, local days and hours across time zones and daylight-saving changes, failures, the balance
and its outlook, versions side by side, and the indexes the queries need."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import inspect

from studio import usage
from studio.errors import StudioError
from studio.store.schema import generations, wins
from studio.usage import UsageFilter, UsageInputError, nearest_rank
from studio.usage.filters import assistant_key, build_filter
from studio.usage.queries import percentile_rows
from studio.usage.zones import DAY_MS, HOUR_MS, local_midnight, offsets

SERVER = "local:/data"
OTHER = "https://neuralbox.top/api/v2"


def ms(text: str) -> int:
    """An ISO instant (UTC) in epoch ms."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def row(at: int | str, **values: Any) -> dict[str, Any]:
    """A generation log record, with defaults for what a test does not care about."""
    record = {
        "at_ms": ms(at) if isinstance(at, str) else at, "server": SERVER, "assistant_id": None, "lineage": None,
        "version": None, "assistant_name": "", "model": "gpt-5-nano", "engine": "echo", "origin": "playground",
        "run_id": None, "tokens_used": 1, "prompt_tokens": None, "completion_tokens": None, "total_tokens": None,
        "first_token_ms": 10.0, "total_ms": 100.0, "outcome": "completed", "error_class": None,
        "balance_after": None,
    }  # fmt: skip
    if "lineage" in values and "assistant_id" not in values:
        values["assistant_id"] = values["lineage"]
    record.update(values)
    return record


def write(store: Any, rows: list[dict[str, Any]], won: list[dict[str, Any]] = ()) -> Any:
    """Write records directly into the store's log; returns the database."""
    db = store.get().db
    with db.write() as connection:
        connection.execute(generations.insert(), rows)
        if won:
            connection.execute(wins.insert(), list(won))
    return db


def whole(zone: str = "UTC", **values: Any) -> UsageFilter:
    """A filter over all of 2026 in a zone, by day."""
    start, end = local_midnight(date(2026, 1, 1), zone), local_midnight(date(2027, 1, 1), zone)
    return UsageFilter(start, end, zone, "day", **values)


# --- Percentiles -----------------------------------------------------------------------------------------


def test_nearest_rank_is_the_value_at_rank_ceil_p_n():
    assert nearest_rank(range(1, 11), 50) == 5
    assert nearest_rank(range(1, 11), 95) == 10
    assert nearest_rank([35, 20, 15, 50, 40], 50) == 35  # rank 3 of 5, order of input irrelevant
    assert nearest_rank([7], 95) == 7 and nearest_rank([], 50) is None
    assert nearest_rank(range(1, 61), 95) == 57  # 0.95 x 60 is 57 exactly: no float rounding up to 58
    assert nearest_rank(range(1, 21), 95) == 19 and nearest_rank([1, 2], 50) == 1


@pytest.mark.parametrize("method", ["sql", "stream"])
def test_percentiles_by_either_method_match_the_hand_computed_ones(store, method):
    if method == "sql" and store.get().db.is_sqlite:
        pytest.skip("SQLite has no percentile_disc: the view streams there, as the stream method tests")
    rows = [row("2026-05-01T10:00:00", lineage="a", total_ms=float(v), first_token_ms=float(v) / 10)
            for v in range(20, 0, -1)]  # fmt: skip
    rows += [row("2026-05-01T10:00:00", lineage="b", total_ms=500.0, first_token_ms=None)]
    rows += [row("2026-05-01T10:00:00", lineage="c", total_ms=v, first_token_ms=f)
             for v, f in ((30.0, None), (10.0, 5.0), (20.0, 7.0), (20.0, None))]  # fmt: skip
    db = write(store, rows)
    with db.read() as connection:
        found = percentile_rows(connection, [assistant_key()], [generations.c.server == SERVER], method)
    by_key = {r[0]: r[1:] for r in found}
    # a: 1..20 -> p50 rank 10, p95 rank 19; first tokens 0.1..2.0 likewise
    assert by_key["a"] == (20, 10.0, 19.0, 1.0, 1.9)
    assert by_key["b"] == (1, 500.0, 500.0, None, None)  # no first token at all
    # c: totals 10, 20, 20, 30 -> p50 rank 2 = 20, p95 rank 4 = 30; first tokens 5, 7 -> rank 1 = 5, rank 2 = 7
    assert by_key["c"] == (4, 20.0, 30.0, 5.0, 7.0)


@pytest.mark.parametrize("method", ["sql", "stream"])
def test_both_methods_agree_with_nearest_rank_for_every_group_size(store, method):
    if method == "sql" and store.get().db.is_sqlite:
        pytest.skip("SQLite has no percentile_disc")
    # 1 to 60 values per group, in a scrambled order: every place where ceil(p x n) could round wrongly
    groups = {f"g{n:02d}": [float((v * 37) % 101) + n / 1000 for v in range(n)] for n in range(1, 61)}
    db = write(store, [row("2026-05-01T10:00:00", lineage=key, total_ms=value, first_token_ms=value)
                       for key, values in groups.items() for value in values])  # fmt: skip
    with db.read() as connection:
        found = percentile_rows(connection, [assistant_key()], [], method)
    expected = {
        key: (len(values), nearest_rank(values, 50), nearest_rank(values, 95))
        for key, values in groups.items()
    }
    assert {r[0]: (r[1], r[2], r[3]) for r in found} == expected
    assert all(r[4:] == r[2:4] for r in found)


def test_latency_counts_completed_calls_under_the_latest_name(store):
    db = write(
        store,
        [
            row("2026-05-01T10:00:00", lineage="asst_1", version=1, assistant_name="Old name", total_ms=100.0),
            row("2026-05-02T10:00:00", lineage="asst_1", version=2, assistant_name="Poet", total_ms=300.0,
                assistant_id="asst_9"),  # brought back as asst_9: the same lineage, one line
            row("2026-05-02T11:00:00", lineage="asst_1", version=2, assistant_name="Poet", total_ms=9999.0,
                outcome="failed", error_class="ProviderError"),
            row("2026-05-02T12:00:00", lineage="asst_1", version=2, assistant_name="Poet", total_ms=5.0,
                outcome="stopped"),
            row("2026-05-03T10:00:00", assistant_name="Market Pick", model="gpt-5", total_ms=50.0),
            row("2026-05-03T10:00:00", assistant_name="", model="gpt-5", total_ms=70.0),
        ],
    )  # fmt: skip
    by_assistant = usage.latency(db, whole(), "assistant")
    assert [(r.name, r.calls, r.p50_ms, r.p95_ms) for r in by_assistant] == [
        ("Poet", 2, 100.0, 300.0),
        ("No assistant (a blank chat)", 1, 70.0, 70.0),
        ("Market Pick", 1, 50.0, 50.0),
    ]
    by_version = usage.latency(db, whole(), "version")
    assert {r.name: r.p95_ms for r in by_version} == {
        "Poet v1": 100.0, "Poet v2": 300.0, "Market Pick": 50.0, "No assistant (a blank chat)": 70.0,
    }  # fmt: skip
    by_model = usage.latency(db, whole(), "model")
    assert {(r.name, r.calls) for r in by_model} == {("gpt-5-nano", 2), ("gpt-5", 2)}
    only_poet = usage.latency(db, whole(assistant="asst_1", version=2), "assistant")
    assert [(r.name, r.calls) for r in only_poet] == [("Poet", 1)]
    unsaved = usage.latency(db, whole(assistant="~Market Pick"), "model")
    assert [(r.name, r.calls) for r in unsaved] == [("gpt-5", 1)]


# --- Local days and hours --------------------------------------------------------------------------------


def test_a_dst_day_in_paris_has_23_or_25_hours():
    spring = local_midnight(date(2026, 3, 30), "Europe/Paris") - local_midnight(
        date(2026, 3, 29), "Europe/Paris"
    )
    autumn = local_midnight(date(2026, 10, 26), "Europe/Paris") - local_midnight(
        date(2026, 10, 25), "Europe/Paris"
    )
    assert (spring, autumn) == (23 * HOUR_MS, 25 * HOUR_MS)
    found = offsets("Europe/Paris", ms("2026-03-01T00:00:00"), ms("2026-11-01T00:00:00"))
    assert found.changes == (ms("2026-03-29T01:00:00"), ms("2026-10-25T01:00:00"))
    assert found.values == (HOUR_MS, 2 * HOUR_MS, HOUR_MS)


# Instants (UTC) and the local day each falls on, per zone. Paris springs forward on 2026-03-29 and falls
# back on 2026-10-25; New York on 03-08 and 11-01; Kolkata is UTC+5:30 all year;
# Chatham is +13:45 on all these dates (its summer).
DAYS = [
    ("2026-03-28T23:30:00", {"UTC": "2026-03-28", "Europe/Paris": "2026-03-29", "America/New_York": "2026-03-28",
                             "Asia/Kolkata": "2026-03-29", "Pacific/Chatham": "2026-03-29"}),
    ("2026-03-29T21:30:00", {"UTC": "2026-03-29", "Europe/Paris": "2026-03-29", "America/New_York": "2026-03-29",
                             "Asia/Kolkata": "2026-03-30", "Pacific/Chatham": "2026-03-30"}),
    ("2026-03-29T22:30:00", {"UTC": "2026-03-29", "Europe/Paris": "2026-03-30", "America/New_York": "2026-03-29",
                             "Asia/Kolkata": "2026-03-30", "Pacific/Chatham": "2026-03-30"}),
    ("2026-10-24T22:30:00", {"UTC": "2026-10-24", "Europe/Paris": "2026-10-25", "America/New_York": "2026-10-24",
                             "Asia/Kolkata": "2026-10-25", "Pacific/Chatham": "2026-10-25"}),
    ("2026-10-25T22:30:00", {"UTC": "2026-10-25", "Europe/Paris": "2026-10-25", "America/New_York": "2026-10-25",
                             "Asia/Kolkata": "2026-10-26", "Pacific/Chatham": "2026-10-26"}),
    ("2026-10-25T23:30:00", {"UTC": "2026-10-25", "Europe/Paris": "2026-10-26", "America/New_York": "2026-10-25",
                             "Asia/Kolkata": "2026-10-26", "Pacific/Chatham": "2026-10-26"}),
    ("2026-11-01T04:30:00", {"UTC": "2026-11-01", "Europe/Paris": "2026-11-01", "America/New_York": "2026-11-01",
                             "Asia/Kolkata": "2026-11-01", "Pacific/Chatham": "2026-11-01"}),
    ("2026-11-02T04:30:00", {"UTC": "2026-11-02", "Europe/Paris": "2026-11-02", "America/New_York": "2026-11-01",
                             "Asia/Kolkata": "2026-11-02", "Pacific/Chatham": "2026-11-02"}),
]  # fmt: skip


@pytest.mark.parametrize(
    "zone", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]
)
def test_tokens_fall_on_the_local_day_in_every_zone(store, zone):
    db = write(store, [row(at, tokens_used=2**index) for index, (at, _) in enumerate(DAYS)])
    found = usage.tokens_over_time(db, whole(zone), "model")
    expected: dict[str, int] = {}
    for index, (_, days) in enumerate(DAYS):
        expected[days[zone]] = expected.get(days[zone], 0) + 2**index
    assert {cell.bucket: cell.tokens for cell in found.cells} == expected
    assert found.buckets[0] == "2026-01-01" and found.buckets[-1] == "2026-12-31"
    assert len(found.buckets) == len(set(found.buckets)) == 365


def test_hours_are_local_and_the_repeated_hour_is_one_bucket(store):
    db = write(store, [row("2026-10-25T00:30:00"), row("2026-10-25T01:30:00"), row("2026-10-25T02:30:00")])
    flt = UsageFilter(ms("2026-10-24T22:00:00"), ms("2026-10-25T04:00:00"), "Europe/Paris", "hour")
    found = usage.tokens_over_time(db, flt, "model")
    # 00:30Z is 02:30 summer time, 01:30Z is 02:30 winter time: the hour the clocks go back happens twice
    assert [(c.bucket, c.tokens) for c in found.cells] == [("2026-10-25 02:00", 2), ("2026-10-25 03:00", 1)]
    assert found.buckets == [f"2026-10-25 0{h}:00" for h in range(5)]  # 00:00 to 04:00, 02:00 once


def test_named_ranges_start_at_a_local_midnight():
    now = ms("2026-03-30T10:00:00")  # 12:00 in Paris, the day after the change to summer time
    start, end, unit = usage.time_range("Last 7 days", "Europe/Paris", now)
    assert (start, end, unit) == (ms("2026-03-23T23:00:00"), now, "day")  # 24 March, 00:00 winter time
    assert usage.time_range("Last 24 hours", "Europe/Paris", now) == (now - DAY_MS, now, "hour")
    assert usage.time_range("All time", "UTC", now) == (None, None, "day")
    between = usage.time_range(
        usage.BETWEEN, "Europe/Paris", now, start_text="2026-03-29", end_text="2026-03-29"
    )
    assert between == (ms("2026-03-28T23:00:00"), ms("2026-03-29T22:00:00"), "hour")  # one 23-hour day
    assert usage.time_range(usage.BETWEEN, "UTC", now, end_text="2026-02-01")[:2] == (
        None,
        ms("2026-02-02T00:00:00"),
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start_text": "2026-13-01"}, "“From” date “2026-13-01” is not a date: write it as YYYY-MM-DD"),
        (
            {"start_text": "2026-03-02", "end_text": "2026-03-01"},
            "“From” (2026-03-02) is after “To” (2026-03-01)",
        ),
        ({"zone": "Mars/Olympus"}, "“Mars/Olympus” is not a time zone the studio knows"),
        ({"zone": "../etc/passwd"}, "is not a time zone the studio knows"),
        ({"origins": []}, "Tick at least one of Playground, Compare and Test runs"),
        ({"version": "three"}, "“three” is not a version number"),
        ({"range_choice": "Last week"}, "“Last week” is not a time range"),
    ],
)
def test_bad_filters_are_named_with_the_way_out(change, message):
    values = {"range_choice": usage.BETWEEN, "zone": "UTC", "now_ms": ms("2026-03-30T10:00:00"), **change}
    with pytest.raises(StudioError) as caught:
        build_filter(**values)
    assert message in str(caught.value)


def test_a_filter_from_the_controls():
    built = build_filter(
        range_choice="Last 30 days", zone=" Europe/Paris ", now_ms=ms("2026-03-30T10:00:00"), server=SERVER,
        assistant="asst_1", version="v3", model="", origins=["test", "playground"],
    )  # fmt: skip
    assert (built.zone, built.server, built.assistant, built.version, built.model) == (
        "Europe/Paris", SERVER, "asst_1", 3, None,
    )  # fmt: skip
    assert built.origins == ("playground", "test")


# --- Failures, the balance, the overview, the options ----------------------------------------------------


def test_failures_by_error_class_per_day_with_every_call_counted(store):
    db = write(
        store,
        [
            row("2026-06-01T08:00:00", outcome="failed", error_class="RateLimitError", tokens_used=0),
            row("2026-06-01T09:00:00", outcome="failed", error_class="RateLimitError", tokens_used=0),
            row("2026-06-01T10:00:00"),
            row("2026-06-01T11:00:00", outcome="stopped"),
            row("2026-06-03T08:00:00", outcome="failed", error_class=None, tokens_used=0),
            row("2026-06-03T09:00:00", outcome="failed", error_class="ProviderError", origin="test"),
        ],
    )
    flt = UsageFilter(ms("2026-06-01T00:00:00"), ms("2026-06-04T00:00:00"), "UTC", "day")
    found = usage.failures_over_time(db, flt)
    assert found.buckets == ["2026-06-01", "2026-06-02", "2026-06-03"]
    assert found.calls == {"2026-06-01": 4, "2026-06-03": 2}
    assert [(c.bucket, c.error_class, c.failures) for c in found.cells] == [
        ("2026-06-01", "RateLimitError", 2), ("2026-06-03", "ProviderError", 1), ("2026-06-03", "unknown", 1),
    ]  # fmt: skip
    playground_only = usage.failures_over_time(
        db, UsageFilter(**{**flt.__dict__, "origins": ("playground",)})
    )
    assert [c.error_class for c in playground_only.cells] == ["RateLimitError", "unknown"]


def test_balance_per_day_and_how_long_it_lasts(store):
    now = ms("2026-06-10T12:00:00")
    rows = [row("2026-05-01T12:00:00", balance_after=5000, tokens_used=0, server=OTHER)]
    rows += [row("2026-05-20T10:00:00", tokens_used=0)]  # the log is older than the rate's 7 days
    rows += [
        row(f"2026-06-0{d}T13:00:00", balance_after=2000 - 100 * d, tokens_used=100) for d in range(3, 10)
    ]
    rows += [row("2026-06-09T14:00:00", balance_after=None, outcome="failed", tokens_used=0),  # no balance said
             row("2026-06-09T09:00:00", balance_after=1150, tokens_used=0)]  # fmt: skip
    db = write(store, rows)
    found = usage.balance_over_time(db, UsageFilter(ms("2026-06-01T00:00:00"), now, "UTC", "day"), now=now)
    assert [(p.bucket, p.server, p.balance) for p in found.points] == [
        (f"2026-06-0{d}", SERVER, 2000 - 100 * d) for d in range(3, 10)
    ]
    local = next(o for o in found.outlooks if o.server == SERVER)
    assert (local.balance, local.rate_days, local.per_day, local.days_left) == (1100, 7, 100.0, 11.0)
    # The other server charged nothing lately: its balance does not run out; a filter on it shows only it.
    other = usage.balance_over_time(db, UsageFilter(None, now, "UTC", "day", server=OTHER), now=now)
    assert [(p.bucket, p.balance) for p in other.points] == [("2026-05-01", 5000)]
    assert other.outlooks[0].days_left is None
    # The balance is the account's: an assistant or model filter does not change it.
    filtered = UsageFilter(ms("2026-06-01T00:00:00"), now, "UTC", "day", model="gpt-5", assistant="asst_x")
    assert usage.balance_over_time(db, filtered, now=now).points == found.points


def test_a_young_log_counts_its_own_age_for_the_rate(store):
    now = ms("2026-06-10T12:00:00")
    db = write(store, [row(now - 2 * DAY_MS, tokens_used=300, balance_after=900)])
    outlook = usage.balance_over_time(db, UsageFilter(None, None, "UTC"), now=now).outlooks[0]
    assert (outlook.rate_days, outlook.per_day, outlook.days_left) == (2, 150.0, 6.0)


def test_overview_and_options_from_the_log(store):
    db = write(
        store,
        [
            row("2026-06-01T08:00:00", lineage="asst_1", version=1, assistant_name="Poet", tokens_used=3),
            row(
                "2026-06-02T08:00:00", lineage="asst_1", version=2, assistant_name="Haiku Poet", model="gpt-5"
            ),
            row("2026-06-02T09:00:00", assistant_name="Market Pick", outcome="failed", tokens_used=0),
            row("2026-06-02T10:00:00", outcome="stopped", tokens_used=0, server=OTHER),
        ],
    )
    flt = UsageFilter(ms("2026-06-02T00:00:00"), ms("2026-06-03T00:00:00"), "UTC", server=SERVER)
    assert usage.overview(db, flt) == usage.Overview(3, ms("2026-06-01T08:00:00"), ms("2026-06-02T09:00:00"),
                                                     2, 1, 1, 0)  # fmt: skip
    found = usage.options(db, SERVER, "asst_1")
    assert found.servers == sorted([SERVER, OTHER])
    assert found.assistants == [("asst_1", "Haiku Poet"), ("~Market Pick", "Market Pick")]
    assert found.models == ["gpt-5", "gpt-5-nano"] and found.versions == [1, 2]
    everywhere = usage.options(db)
    assert everywhere.models == ["gpt-5", "gpt-5-nano"] and everywhere.versions == []
    assert usage.options(db, OTHER).assistants == [("~", "No assistant (a blank chat)")]
    empty = usage.overview(db, UsageFilter(ms("2025-01-01T00:00:00"), ms("2025-02-01T00:00:00"), "UTC"))
    assert (empty.logged, empty.calls) == (4, 0)


def test_an_empty_log_gives_empty_results_not_errors(store):
    db = store.get().db
    open_range = UsageFilter(None, None, "Europe/Paris")
    assert usage.tokens_over_time(db, open_range).cells == []
    assert usage.failures_over_time(db, open_range).cells == []
    assert usage.balance_over_time(db, open_range).points == []
    assert usage.latency(db, open_range) == []
    assert usage.overview(db, open_range).logged == 0
    assert usage.options(db) == usage.Options([], [], [], [])


# --- Versions side by side -------------------------------------------------------------------------------


def test_versions_side_by_side_with_wins_and_pass_rates(store):
    at = "2026-07-01T10:00:00"
    db = write(
        store,
        [
            *(row(at, lineage="asst_1", version=1, tokens_used=4, total_ms=float(v)) for v in (100, 200)),
            row(at, lineage="asst_1", version=1, outcome="failed", error_class="ProviderError", tokens_used=0),
            row(at, lineage="asst_1", version=2, tokens_used=2, total_ms=50.0, origin="compare"),
            row(at, lineage="asst_2", version=1, tokens_used=99),
        ],
        won=[
            {"server": SERVER, "lineage": "asst_1", "number": 2, "assistant_name": "P", "model": "m", "columns": 2,
             "created_ms": ms(at)},
            {"server": SERVER, "lineage": "asst_1", "number": 3, "assistant_name": "P", "model": "m", "columns": 2,
             "created_ms": ms(at)},
            {"server": SERVER, "lineage": "asst_1", "number": 2, "assistant_name": "P", "model": "m", "columns": 2,
             "created_ms": ms("2025-01-01T00:00:00")},  # out of range
        ],
    )  # fmt: skip
    seen: dict[str, Any] = {}

    def pass_rates(connection, *, server, lineage, start_ms, end_ms):
        seen.update(server=server, lineage=lineage, start_ms=start_ms, end_ms=end_ms)
        return {1: usage.PassRate(3, 4)}

    rows = usage.compare_versions(db, whole(assistant="asst_1", server=SERVER, version=2), pass_rates)
    assert [(r.label, r.calls, r.tokens, r.failed, r.p50_ms, r.p95_ms, r.wins) for r in rows] == [
        ("v1", 3, 8, 1, 100.0, 200.0, 0), ("v2", 1, 2, 0, 50.0, 50.0, 1), ("v3", 0, 0, 0, None, None, 1),
    ]  # fmt: skip
    assert rows[0].pass_rate == usage.PassRate(3, 4) and rows[0].pass_rate.rate == 0.75
    assert rows[1].pass_rate is None and rows[2].tokens_per_call is None
    assert (rows[0].tokens_per_call, rows[0].failure_rate) == (8 / 3, 1 / 3)
    assert seen == {"server": SERVER, "lineage": "asst_1", "start_ms": ms("2026-01-01T00:00:00"),
                    "end_ms": ms("2027-01-01T00:00:00")}  # fmt: skip
    assert all(r.pass_rate is None for r in usage.compare_versions(db, whole(assistant="asst_1")))
    for unsaved in (None, "~Market Pick"):
        with pytest.raises(UsageInputError, match="Pick one of your assistants"):
            usage.compare_versions(db, whole(assistant=unsaved))


# --- The schema ------------------------------------------------------------------------------------------


def test_the_migration_builds_the_indexes_the_schema_declares(store):
    built = {index["name"] for index in inspect(store.get().db.engine).get_indexes("generations")}
    declared = {index.name for index in generations.indexes}
    assert declared <= built
    assert {"ix_generations_at", "ix_generations_lineage_latest"} <= declared


def test_the_versions_pass_rates_come_from_the_suites_runs(store):
    from studio.store.schema import test_results, test_runs

    db = store.get().db
    now = 1_800_000_000_000

    def run(run_id: str, versions: list[int], results: list[tuple[int, str]]) -> None:
        with db.write() as connection:
            connection.execute(test_runs.insert().values(
                id=run_id, server=SERVER, lineage="asst_1", suite_id=None, suite_name="s", origin="cli",
                status="finished", targets=[{"label": f"v{v}", "version": v} for v in versions], cases=2,
                repeats=1, concurrency=1, heartbeat_ms=now, started_ms=now,
            ))  # fmt: skip
            connection.execute(test_results.insert(), [
                {"run_id": run_id, "case_index": i, "target": target, "repeat": 0, "status": status,
                 "outcomes": [], "created_ms": now}
                for i, (target, status) in enumerate(results)
            ])  # fmt: skip

    run("run_a", [1, 2], [(0, "pass"), (0, "fail"), (1, "pass"), (1, "pass")])
    run("run_b", [2], [(0, "error"), (0, "pass")])
    with db.read() as connection:
        rates = usage.suite_pass_rates(
            connection, server=SERVER, lineage="asst_1", start_ms=None, end_ms=None
        )
        assert (
            usage.suite_pass_rates(connection, server=SERVER, lineage="asst_1", start_ms=now + 1, end_ms=None)
            == {}
        )
    assert rates == {1: usage.PassRate(1, 2), 2: usage.PassRate(3, 4)}  # an error counts against
