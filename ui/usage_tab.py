"""Usage: where the tokens, the time and the failures go, as plots over the generation log, with a table
under each plot and CSV export of it. Handlers are plain functions of values; layout and wiring follow."""

from __future__ import annotations

import functools
import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

import gradio as gr
import pandas as pd

from studio import usage
from studio.errors import describe_error
from studio.store import Store
from studio.store.database import Database
from studio.store.history import now_ms
from studio.text import counted
from studio.usage import ORIGINS, UNSAVED, UsageFilter
from studio.usage.filters import build_filter
from studio.usage.zones import local_text
from ui.context import StudioContext
from ui.theme import escape_md

USAGE_TAB_ID = "usage"
T = TypeVar("T")
ALL = ""  # the value of every "All …" choice
# Gradio's plots fit the y axis to the data; bars must start at zero or their lengths mislead.
BARS_FROM_ZERO: list[float | None] = [0, None]
TOP_SERIES = 8  # stacked series shown by name; the rest add up to "Other"
NO_STORE = "Usage is drawn from the studio's store, and this studio runs without one."
EMPTY_LOG = (
    "**Nothing is logged yet.** Every answer the studio asks for (in the Playground, in Compare and in test "
    "runs) is logged with its tokens, time and outcome, never its text. Chat in the Playground, then come "
    "back here."
)
ORIGIN_CHOICES = [("Playground", "playground"), ("Compare", "compare"), ("Test runs", "test")]
STACK_CHOICES = ["Assistant", "Model"]
LATENCY_CHOICES = ["Assistant", "Version", "Model"]
METRICS = {
    "Tokens per call": "Tokens per call",
    "Latency p50": "p50 (ms)",
    "Latency p95": "p95 (ms)",
    "Failure rate": "Failure rate (%)",
    "Test pass rate": "Test pass rate (%)",
    "Compare wins": "Compare wins",
}
LATENCY_COLUMNS = ["Calls", "p50 (ms)", "p95 (ms)", "First token p50 (ms)", "First token p95 (ms)"]
VERSION_COLUMNS = ["Version", "Calls", "Tokens", "Tokens per call", "p50 (ms)", "p95 (ms)",
                   "First token p50 (ms)", "Failure rate (%)", "Test pass rate (%)", "Compare wins"]  # fmt: skip
BALANCE_COLUMNS = ["Server", "Balance"]


class Section(NamedTuple):
    """What one plot shows: its data (None: nothing to plot), the table under it, and a line about it."""

    plot: pd.DataFrame | None
    table: pd.DataFrame
    note: str


class Choices(NamedTuple):
    server: Any
    assistant: Any
    version: Any
    model: Any


@dataclass(frozen=True)
class Controls:
    """The filters' values as the page (or a script) sends them; "" means all."""

    range_choice: str
    start: str
    end: str
    zone: str
    server: str
    assistant: str
    version: str
    model: str
    origins: list[str]

    @classmethod
    def of(cls, values: dict[str, Any]) -> Controls:
        """The controls from the endpoints' keyword arguments; a missing one is empty ("all")."""
        text = {name: str(values.get(name) or "") for name in
                ("range_choice", "start", "end", "zone", "server", "assistant", "version", "model")}  # fmt: skip
        text["server"] = store_server(text["server"])
        origins = values.get("origins")
        return cls(**text, origins=list(ORIGINS) if origins is None else list(origins))

    def filter(self, now: int | None = None) -> UsageFilter:
        return build_filter(
            range_choice=self.range_choice, zone=self.zone, now_ms=now if now is not None else now_ms(),
            start_text=self.start, end_text=self.end, server=self.server, assistant=self.assistant,
            version=self.version, model=self.model, origins=self.origins,
        )  # fmt: skip


# --- Labels ------------------------------------------------------------------------------------------------


def server_label(key: str) -> str:
    """A server as people name it: the local server, or the API's host."""
    if key.startswith("local:"):
        return "Local server"
    parts = urlsplit(key)
    return parts.netloc or key


# A local server's key holds its data folder's path (a folder of the host's user): the page names it by a
# digest instead, and the digests met so far lead back to the keys.
_LOCAL_KEYS: dict[str, str] = {}


def page_server(key: str) -> str:
    """A server as the page's filter names it: the API's address, or a digest for a local server."""
    if not key.startswith("local:"):
        return key
    name = "local:" + hashlib.sha256(key.encode()).hexdigest()[:12]
    _LOCAL_KEYS[name] = key
    return name


def store_server(name: str) -> str:
    """The store's key for a server the page (or a script) names; a key itself is taken as it is."""
    return _LOCAL_KEYS.get(name, name)


def distinct_labels(named: dict[str, str]) -> dict[str, str]:
    """Labels for keys whose names may repeat (two assistants called the same): repeats say which."""
    counts: dict[str, int] = {}
    for name in named.values():
        counts[name] = counts.get(name, 0) + 1
    return {key: name if counts[name] == 1 else f"{name} ({'not saved' if key.startswith(UNSAVED) else key})"
            for key, name in named.items()}  # fmt: skip


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _unit_word(unit: str) -> str:
    return "Hour" if unit == "hour" else "Day"


# --- Turning results into what is shown ----------------------------------------------------------------


def tokens_section(found: usage.TokensOverTime, by: str) -> Section:
    """Stacked bars of tokens per day (or hour) and the same numbers as a table, one column per series."""
    column = _unit_word(found.unit)
    if not found.cells:
        return Section(None, pd.DataFrame([], columns=[column, "Total"]), "No calls in this range.")
    labels = distinct_labels({cell.key: cell.name for cell in found.cells})
    totals: dict[str, int] = {}
    for cell in found.cells:
        totals[labels[cell.key]] = totals.get(labels[cell.key], 0) + cell.tokens
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    shown = ranked[:TOP_SERIES]
    other = f"Other ({len(ranked) - TOP_SERIES} more)" if len(ranked) > TOP_SERIES else None
    series = shown + ([other] if other else [])
    grid = {bucket: dict.fromkeys(series, 0) for bucket in found.buckets}
    for cell in found.cells:
        name = labels[cell.key]
        grid.setdefault(cell.bucket, dict.fromkeys(series, 0))
        grid[cell.bucket][name if name in shown else other] += cell.tokens  # type: ignore[index]
    table = pd.DataFrame(
        [[bucket, *row.values(), sum(row.values())] for bucket, row in grid.items()],
        columns=[column, *series, "Total"],
    )
    plot = pd.DataFrame(
        [[bucket, count, name] for bucket, row in grid.items() for name, count in row.items()],
        columns=["When", "Tokens", "Series"],
    )
    total, calls = sum(totals.values()), sum(cell.calls for cell in found.cells)
    note = f"{counted(total, 'token')} charged over {counted(calls, 'call')}, by {by.lower()}."
    if other:
        note += f" The {TOP_SERIES} that used the most are shown by name."
    return Section(plot, table, note)


def latency_section(rows: list[usage.LatencyRow], by: str) -> Section:
    """p50 and p95 of the total time and the time to first token, per assistant, version or model."""
    if not rows:
        return Section(
            None, pd.DataFrame([], columns=[by, *LATENCY_COLUMNS]), "No completed calls in this range."
        )
    labels = distinct_labels({row.key: row.name for row in rows})
    table = pd.DataFrame(
        [[labels[r.key], r.calls, _ms(r.p50_ms), _ms(r.p95_ms), _ms(r.first_p50_ms), _ms(r.first_p95_ms)]
         for r in rows],
        columns=[by, *LATENCY_COLUMNS],
    )  # fmt: skip
    measures = {"Total p50": "p50 (ms)", "Total p95": "p95 (ms)",
                "First token p50": "First token p50 (ms)", "First token p95": "First token p95 (ms)"}  # fmt: skip
    plot = pd.DataFrame(
        [[row[by], row[column], measure] for _, row in table.iterrows() for measure, column in measures.items()
         if row[column] is not None and not pd.isna(row[column])],
        columns=["Group", "Milliseconds", "Measure"],
    )  # fmt: skip
    calls = sum(r.calls for r in rows)
    note = (
        f"Completed calls only ({calls:,}). Percentiles by nearest rank: 95% of calls took at most their p95."
    )
    return Section(plot, table, note)


def failures_section(found: usage.FailuresOverTime) -> Section:
    """Failed calls per day (or hour), stacked by error class, with the failure rate in the table."""
    column = _unit_word(found.unit)
    classes = sorted({cell.error_class for cell in found.cells})
    columns = [column, *classes, "Failed", "Calls", "Failure rate (%)"]
    if not found.cells:
        calls = sum(found.calls.values())
        note = (
            f"No failures in this range: all {counted(calls, 'call')} completed or were stopped."
            if calls
            else "No calls in this range."
        )
        return Section(None, pd.DataFrame([], columns=columns), note)
    grid = {bucket: dict.fromkeys(classes, 0) for bucket in found.buckets}
    for cell in found.cells:
        grid.setdefault(cell.bucket, dict.fromkeys(classes, 0))[cell.error_class] += cell.failures
    rows = []
    for bucket, counts in grid.items():
        failed, calls = sum(counts.values()), found.calls.get(bucket, 0)
        rows.append([bucket, *counts.values(), failed, calls, _percent(failed / calls) if calls else None])
    plot = pd.DataFrame(
        [[bucket, count, name] for bucket, counts in grid.items() for name, count in counts.items()],
        columns=["When", "Failures", "Error class"],
    )
    failed, calls = sum(c.failures for c in found.cells), sum(found.calls.values())
    by_class = ", ".join(
        f"{sum(c.failures for c in found.cells if c.error_class == name):,} {name}" for name in classes
    )
    return Section(plot, pd.DataFrame(rows, columns=columns),
                   f"{failed:,} of {calls:,} calls failed ({100 * failed / calls:.1f}%): {by_class}.")  # fmt: skip


def versions_section(rows: list[usage.VersionRow], metric: str) -> Section:
    """One assistant's versions side by side; the plot shows the chosen figure of each."""
    if not rows:
        return Section(None, pd.DataFrame([], columns=VERSION_COLUMNS),
                       "This assistant made no calls, won nothing and ran no tests in this range.")  # fmt: skip
    table = pd.DataFrame(
        [[r.label, r.calls, r.tokens, None if r.tokens_per_call is None else round(r.tokens_per_call, 2),
          _ms(r.p50_ms), _ms(r.p95_ms), _ms(r.first_p50_ms), _percent(r.failure_rate),
          _percent(r.pass_rate.rate) if r.pass_rate else None, r.wins] for r in rows],
        columns=VERSION_COLUMNS,
    )  # fmt: skip
    column = METRICS.get(metric, "Tokens per call")
    plot = table[["Version", column]].dropna().rename(columns={column: "Value"})
    note = f"{counted(len(rows), 'version')}; the plot shows {metric.lower()}."
    if all(r.pass_rate is None for r in rows):
        note += " No test runs are recorded for these versions yet, so the test pass rate is empty."
    if plot.empty:
        return Section(None, table, note + f" No version has a {metric.lower()} to plot.")
    return Section(plot, table, note)


def balance_section(found: usage.BalanceOverTime, zone: str) -> Section:
    """The balance after each day's (or hour's) last charged call, and how long it lasts at the recent rate."""
    column = _unit_word(found.unit)
    if not found.points:
        return Section(None, pd.DataFrame([], columns=[column, *BALANCE_COLUMNS]),
                       "No balance was reported in this range.")  # fmt: skip
    labels = {p.server: server_label(p.server) for p in found.points}
    labels = distinct_labels(labels) if len(set(labels.values())) < len(labels) else labels
    table = pd.DataFrame([[p.bucket, labels[p.server], p.balance] for p in found.points],
                         columns=[column, *BALANCE_COLUMNS])  # fmt: skip
    plot = table.rename(columns={column: "When"})
    lines = [outlook_line(o, labels.get(o.server, server_label(o.server)), zone) for o in found.outlooks]
    return Section(plot, table, "\n\n".join(lines))


def outlook_line(outlook: usage.queries.Outlook, label: str, zone: str) -> str:
    """How long a balance lasts, as a sentence."""
    head = (
        f"**{escape_md(label)}**: {outlook.balance:,} tokens left (as of {local_text(outlook.at_ms, zone)})"
    )
    window = f"the last {outlook.rate_days:g} days" if outlook.rate_days >= 2 else "the last day"
    if outlook.days_left is None:
        return f"{head}; nothing was charged in {window}, so at that rate it does not run out."
    until = (datetime.now(UTC) + timedelta(days=outlook.days_left)).date().isoformat()
    return (
        f"{head}; at {outlook.per_day:,.0f} tokens a day ({window}) it lasts about "
        f"{outlook.days_left:,.0f} days, until around {until}."
    )


def summary_line(found: usage.Overview, flt: UsageFilter) -> str:
    """The line above the plots: what the filter holds, or why there is nothing to show."""
    if found.logged == 0:
        return EMPTY_LOG
    span = escape_md(usage.describe_range(flt))
    if found.calls == 0:
        assert found.first_ms is not None and found.last_ms is not None
        held = f"{local_text(found.first_ms, flt.zone)} to {local_text(found.last_ms, flt.zone)}"
        return (
            f"**No generations from {span} with these filters.** The log holds {found.logged:,}, from {held}: "
            "widen the time range or clear a filter."
        )
    rate = f" ({100 * found.failed / found.calls:.1f}%)" if found.failed else ""
    return (
        f"**{counted(found.calls, 'generation')}** · {counted(found.tokens, 'token')} charged · "
        f"{found.failed:,} failed{rate} · {found.stopped:,} stopped · from {span}"
    )


# --- Handlers ----------------------------------------------------------------------------------------------


async def _query(ctx: StudioContext, action: Callable[[Database], T]) -> T:
    """Run a query on the store in a worker thread; StoreUnavailable says why it cannot."""
    if ctx.store is None:
        raise usage.UsageInputError(NO_STORE)

    def run(store: Store) -> T:
        store.log.flush()  # the answer just given is counted
        return action(store.db)

    return await ctx.store.run(run)


def _failed(err: BaseException, columns: list[str]) -> Section:
    return Section(None, pd.DataFrame([], columns=columns), escape_md(describe_error(err)))


async def load_choices(ctx: StudioContext, server: str, assistant: str, version: str, model: str) -> Choices:
    """The filters' choices from the log: servers, assistants by name, their versions, models."""
    server = store_server(server or "")
    try:
        found = await _query(ctx, lambda db: usage.options(db, server or None, assistant or None))
    except Exception:  # the summary line says what is wrong; the filters keep what they hold
        return Choices(gr.skip(), gr.skip(), gr.skip(), gr.skip())
    servers = sorted(set(found.servers) | ({ctx.server_key} if ctx.server_key else set()))
    server_labels = distinct_labels({key: server_label(key) for key in servers})
    assistants = distinct_labels(dict(found.assistants))

    def pick(value: str, values: list[str]) -> str:
        return value if value in values else ALL

    return Choices(
        gr.Dropdown(choices=[("All servers", ALL), *((server_labels[k], page_server(k)) for k in servers)],
                    value=page_server(pick(server, servers))),
        gr.Dropdown(choices=[("All assistants", ALL), *((label, key) for key, label in assistants.items())],
                    value=pick(assistant, list(assistants))),
        gr.Dropdown(choices=[("All versions", ALL), *((f"v{n}", str(n)) for n in found.versions)],
                    value=pick(str(version or ""), [str(n) for n in found.versions])),
        gr.Dropdown(choices=[("All models", ALL), *((m, m) for m in found.models)],
                    value=pick(model, found.models)),
    )  # fmt: skip


async def load_summary(ctx: StudioContext, controls: Controls) -> str:
    """The line above the plots."""
    if ctx.store is None:
        return NO_STORE
    try:
        flt = controls.filter()
        found = await _query(ctx, lambda db: usage.overview(db, flt))
    except Exception as err:
        return escape_md(describe_error(err))
    return summary_line(found, flt)


async def load_tokens(ctx: StudioContext, controls: Controls, by: str = "Assistant") -> Section:
    """Tokens charged per day, stacked by assistant or model."""
    by = by if by in STACK_CHOICES else "Assistant"
    try:
        flt = controls.filter()
        key = "model" if by == "Model" else "assistant"
        found = await _query(ctx, lambda db: usage.tokens_over_time(db, flt, key))
    except Exception as err:
        return _failed(err, ["Day", "Total"])
    return tokens_section(found, by)


async def load_latency(ctx: StudioContext, controls: Controls, by: str = "Assistant") -> Section:
    """Latency and time to first token (p50, p95) per assistant, version or model."""
    by = by if by in LATENCY_CHOICES else "Assistant"
    try:
        flt = controls.filter()
        found = await _query(ctx, lambda db: usage.latency(db, flt, by.lower()))  # type: ignore[arg-type]
    except Exception as err:
        return _failed(err, [by, *LATENCY_COLUMNS])
    return latency_section(found, by)


async def load_failures(ctx: StudioContext, controls: Controls) -> Section:
    """Failures per day by error class."""
    try:
        flt = controls.filter()
        found = await _query(ctx, lambda db: usage.failures_over_time(db, flt))
    except Exception as err:
        return _failed(err, ["Day", "Failed", "Calls", "Failure rate (%)"])
    return failures_section(found)


async def load_versions(
    ctx: StudioContext,
    controls: Controls,
    metric: str = "Tokens per call",
    pass_rates: usage.PassRates = usage.suite_pass_rates,
) -> Section:
    """The versions of the assistant picked in the filters, side by side."""
    metric = metric if metric in METRICS else "Tokens per call"
    try:
        flt = controls.filter()
        found = await _query(ctx, lambda db: usage.compare_versions(db, flt, pass_rates))
    except Exception as err:
        return _failed(err, VERSION_COLUMNS)
    return versions_section(found, metric)


async def load_balance(ctx: StudioContext, controls: Controls) -> Section:
    """The balance over time, and how many days it lasts at the current rate."""
    try:
        flt = controls.filter()
        found = await _query(ctx, lambda db: usage.balance_over_time(db, flt))
    except Exception as err:
        return _failed(err, ["Day", *BALANCE_COLUMNS])
    return balance_section(found, flt.zone)


def export_csv(name: str, table: pd.DataFrame | None) -> tuple[str | None, str]:
    """Write the table as shown to a CSV file; returns its path (None: nothing to export) and a notice."""
    if table is None or table.empty:
        return None, "Nothing to export: the table is empty."
    folder = Path(tempfile.mkdtemp(prefix="usage-export-"))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = folder / f"usage-{name}-{stamp}.csv"
    inert(table).to_csv(path, index=False)
    return str(path), ""


def inert(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every text cell that a spreadsheet would run as a formula (=, +, -, @ first) quoted,
    since assistant names are typed by people and marketplace names by strangers."""

    def guard(value: Any) -> Any:
        return (
            f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
        )

    safe = table.copy()
    safe.columns = [guard(str(column)) for column in table.columns]
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(guard)
    return safe


# --- Layout and wiring ---------------------------------------------------------------------------------


@dataclass
class UsageTab:
    summary: gr.Markdown


def _table(label: str, elem_id: str, columns: list[str]) -> gr.Dataframe:
    return gr.Dataframe(pd.DataFrame([], columns=columns), label=label, interactive=False, wrap=True,
                        max_height=320, elem_id=elem_id)  # fmt: skip


def _export_row(name: str) -> tuple[gr.Button, gr.File]:
    button = gr.Button("Export CSV", size="sm", elem_id=f"usage-{name}-export", elem_classes="usage-export")
    file = gr.File(
        label=f"Exported {name} CSV", interactive=False, visible=False, elem_id=f"usage-{name}-file"
    )
    return button, file


def _exported(name: str, table: pd.DataFrame | None) -> Any:
    path, notice = export_csv(name, table)
    if notice:
        gr.Warning(notice)
    return gr.update(value=path, visible=path is not None)


def build_usage_tab(ctx: StudioContext, blocks: gr.Blocks, tab: gr.Tab) -> UsageTab:
    """Lay out the filters, the summary and one section per plot, then wire them; it loads when shown."""
    gr.Markdown("Where the tokens, the time and the failures go, from the studio's log of every answer.")
    with gr.Row(equal_height=True):
        range_choice = gr.Dropdown(usage.RANGES, value=usage.DEFAULT_RANGE, label="Time range",
                                   elem_id="usage-range", scale=2)  # fmt: skip
        start = gr.Textbox(
            "", label="From (YYYY-MM-DD)", placeholder="2026-03-01", elem_id="usage-from", scale=1
        )
        end = gr.Textbox("", label="To (YYYY-MM-DD)", placeholder="today", elem_id="usage-to", scale=1)
        zone = gr.Dropdown(usage.zone_names(), value="UTC", label="Time zone", allow_custom_value=True,
                           elem_id="usage-zone", scale=2)  # fmt: skip
    with gr.Row(equal_height=True):
        # Custom values pass: a script may name a server, assistant id, version or model the page never
        # listed; one the log lacks matches nothing, and the summary says so.
        picks = {"allow_custom_value": True, "filterable": True}
        server = gr.Dropdown(
            [("All servers", ALL)] + ([(server_label(ctx.server_key), page_server(ctx.server_key))] if ctx.server_key else []),
            value=page_server(ctx.server_key) if ctx.server_key else ALL, label="Server", elem_id="usage-server", **picks,
        )  # fmt: skip
        assistant = gr.Dropdown([("All assistants", ALL)], value=ALL, label="Assistant", elem_id="usage-assistant",
                                **picks)  # fmt: skip
        version = gr.Dropdown(
            [("All versions", ALL)], value=ALL, label="Version", elem_id="usage-version", **picks
        )
        model = gr.Dropdown([("All models", ALL)], value=ALL, label="Model", elem_id="usage-model", **picks)
    with gr.Row(equal_height=True):
        origins = gr.CheckboxGroup(ORIGIN_CHOICES, value=list(ORIGINS), label="Calls from",
                                   elem_id="usage-origins", scale=3)  # fmt: skip
        refresh = gr.Button("Refresh", elem_id="usage-refresh", scale=0, min_width=120)
    summary = gr.Markdown("Open this tab to load the usage.", elem_id="usage-summary", label="Usage summary")

    gr.Markdown("### Tokens charged")
    stack_by = gr.Radio(STACK_CHOICES, value="Assistant", label="Stack by", elem_id="usage-stack-by")
    tokens_plot = gr.BarPlot(x="When", y="Tokens", color="Series", x_title="Day or hour (your time zone)",
                             color_title=" ", x_label_angle=-45, height=320, label="Tokens charged", y_lim=BARS_FROM_ZERO,
                             show_label=False, elem_id="usage-tokens-plot", buttons=["export"])  # fmt: skip
    tokens_note = gr.Markdown(elem_id="usage-tokens-note", label="Tokens note")
    tokens_table = _table("Tokens charged per day", "usage-tokens-table", ["Day", "Total"])
    tokens_export, tokens_file = _export_row("tokens")

    gr.Markdown("### Latency and time to first token")
    latency_by = gr.Radio(LATENCY_CHOICES, value="Assistant", label="Per", elem_id="usage-latency-by")
    latency_plot = gr.ScatterPlot(x="Group", y="Milliseconds", color="Measure", x_title="Assistant, version or model",
                                  y_lim=BARS_FROM_ZERO, x_label_angle=-30, height=320, label="Latency", show_label=False,
                                  elem_id="usage-latency-plot", buttons=["export"])  # fmt: skip
    latency_note = gr.Markdown(elem_id="usage-latency-note", label="Latency note")
    latency_table = _table("Latency", "usage-latency-table", ["Assistant", *LATENCY_COLUMNS])
    latency_export, latency_file = _export_row("latency")

    gr.Markdown("### Failures by error class")
    failures_plot = gr.BarPlot(x="When", y="Failures", color="Error class", x_title="Day or hour (your time zone)",
                               y_lim=BARS_FROM_ZERO, x_label_angle=-45, height=280, label="Failures", show_label=False,
                               elem_id="usage-failures-plot", buttons=["export"])  # fmt: skip
    failures_note = gr.Markdown(elem_id="usage-failures-note", label="Failures note")
    failures_table = _table(
        "Failures", "usage-failures-table", ["Day", "Failed", "Calls", "Failure rate (%)"]
    )
    failures_export, failures_file = _export_row("failures")

    gr.Markdown("### Versions of one assistant")
    metric = gr.Radio(list(METRICS), value="Tokens per call", label="Compare by", elem_id="usage-metric")
    versions_plot = gr.BarPlot(x="Version", y="Value", x_title="Version", y_title=" ", height=280, y_lim=BARS_FROM_ZERO,
                               label="Versions", show_label=False, elem_id="usage-versions-plot",
                               buttons=["export"])  # fmt: skip
    versions_note = gr.Markdown(elem_id="usage-versions-note", label="Versions note")
    versions_table = _table("Versions", "usage-versions-table", VERSION_COLUMNS)
    versions_export, versions_file = _export_row("versions")

    gr.Markdown("### Balance")
    balance_plot = gr.LinePlot(x="When", y="Balance", color="Server", x_title="Day or hour (your time zone)",
                               x_label_angle=-45, height=280, label="Balance", show_label=False,
                               elem_id="usage-balance-plot", buttons=["export"])  # fmt: skip
    balance_note = gr.Markdown(elem_id="usage-balance-note", label="Balance outlook")
    balance_table = _table("Balance", "usage-balance-table", ["Day", *BALANCE_COLUMNS])
    balance_export, balance_file = _export_row("balance")

    # --- Wiring: the filters reload the choices, then every section at once -------------------------------
    # The browser says its time zone once the page is open; the Time zone filter can change it.
    blocks.load(None, None, zone, js="() => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'")
    # Named inputs: the endpoints take keyword arguments named as Controls' fields.
    filters = {"range_choice": range_choice, "start": start, "end": end, "zone": zone, "server": server,
               "assistant": assistant, "version": version, "model": model, "origins": origins}  # fmt: skip

    async def choices(server: str, assistant: str, version: str, model: str) -> Choices:
        return await load_choices(ctx, server, assistant, version, model)

    async def summarise(**values: Any) -> str:
        return await load_summary(ctx, Controls.of(values))

    async def tokens(stack_by: str = "Assistant", **values: Any) -> Section:
        return await load_tokens(ctx, Controls.of(values), stack_by)

    async def latency(per: str = "Assistant", **values: Any) -> Section:
        return await load_latency(ctx, Controls.of(values), per)

    async def failures(**values: Any) -> Section:
        return await load_failures(ctx, Controls.of(values))

    async def versions(compare_by: str = "Tokens per call", **values: Any) -> Section:
        return await load_versions(ctx, Controls.of(values), compare_by)

    async def balance(**values: Any) -> Section:
        return await load_balance(ctx, Controls.of(values))

    triggers = [tab.select, refresh.click, range_choice.input, start.submit, end.submit, zone.input,
                server.input, assistant.input, version.input, model.input, origins.input]  # fmt: skip
    listed = [server, assistant, version, model]
    loaded = gr.on(triggers, choices, listed, listed, api_name="usage_filters", show_progress="hidden")
    loaded.then(summarise, inputs_kwargs=filters, outputs=summary, api_name="usage_summary",
                show_progress="hidden")  # fmt: skip
    sections: list[tuple[str, Callable[..., Any], dict[str, Any], list[Any]]] = [
        ("usage_tokens", tokens, {"stack_by": stack_by}, [tokens_plot, tokens_table, tokens_note]),
        ("usage_latency", latency, {"per": latency_by}, [latency_plot, latency_table, latency_note]),
        ("usage_failures", failures, {}, [failures_plot, failures_table, failures_note]),
        ("usage_versions", versions, {"compare_by": metric}, [versions_plot, versions_table, versions_note]),
        ("usage_balance", balance, {}, [balance_plot, balance_table, balance_note]),
    ]
    for api_name, fn, option, outputs in sections:
        inputs = {**filters, **option}
        loaded.then(fn, inputs_kwargs=inputs, outputs=outputs, api_name=api_name, show_progress="hidden")
        for control in option.values():  # changing how a section is split reloads only that section
            control.input(fn, inputs_kwargs=inputs, outputs=outputs, api_visibility="private",
                          show_progress="hidden")  # fmt: skip
    for name, button, table, file in (
        ("tokens", tokens_export, tokens_table, tokens_file),
        ("latency", latency_export, latency_table, latency_file),
        ("failures", failures_export, failures_table, failures_file),
        ("versions", versions_export, versions_table, versions_file),
        ("balance", balance_export, balance_table, balance_file),
    ):
        button.click(functools.partial(_exported, name), table, file,
                     api_name=f"usage_export_{name}")  # fmt: skip
    return UsageTab(summary=summary)
