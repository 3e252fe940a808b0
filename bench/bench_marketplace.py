"""A marketplace of 10,000 made-up items: search and category filter, in the server and through the app.

In the server: the client's `marketplace.list` over loopback to the local server alone, which stamps each
answer with its own time (Server-Timing, added by bench.runner); the goal is judged on that time, the
round trip is shown beside it. Through the app: the studio's `marketplace_search` endpoint, from one
browser session, as a person searching again and again. The two alternate query by query.
"""

from __future__ import annotations

import re
import time
import uuid

import httpx

from backend.client import AssistantsClient
from bench.apps import local_server, studio
from bench.common import CALL_TIMEOUT, Row, endpoint_inputs, fmt_ms, gradio_call, median, ms, p95
from bench.market_items import queries

ITEMS = 10_000
SERVER_GOAL_MS = 30.0
APP_GOAL_MS = 50.0
_DUR = re.compile(r"dur=([0-9.]+)")


class TimingTransport(httpx.HTTPTransport):
    """Keeps the server's own time (Server-Timing) of the last answer."""

    def __init__(self) -> None:
        super().__init__()
        self.last_ms = float("nan")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        found = _DUR.search(response.headers.get("server-timing", ""))
        self.last_ms = float(found.group(1)) if found else float("nan")
        return response


def measure(count: int, budget_s: float) -> dict[str, dict[str, list[float]]]:
    """Per query kind ("search", "category"): server time, client round trip, and the app's time."""
    kinds = ("search", "category")
    out: dict[str, dict[str, list[float]]] = {k: {"server": [], "client": [], "app": []} for k in kinds}
    mix = queries(count)
    deadline = time.monotonic() + budget_s
    with (
        local_server(marketplace=ITEMS) as server,
        studio(marketplace=ITEMS) as app,
        httpx.Client(timeout=CALL_TIMEOUT) as http,
    ):
        transport = TimingTransport()
        client = AssistantsClient(base_url=server.api, api_key=server.key, transport=transport)
        inputs = endpoint_inputs(http, app.url, "marketplace_search")
        session = uuid.uuid4().hex
        if client.marketplace.list(limit=1).total != ITEMS:
            raise RuntimeError("the local server does not hold the generated marketplace")
        opened = gradio_call(http, app.url, "marketplace_search", inputs(), session=session)  # a new session
        if f"{ITEMS:,}" not in str(opened.data):
            raise RuntimeError(
                f"the studio does not show the generated marketplace: {str(opened.data)[-200:]}"
            )

        def in_server(category: str | None, q: str | None, page: int) -> tuple[float, float]:
            started = time.perf_counter()
            client.marketplace.list(category=category, q=q, page=page, limit=20)
            return time.perf_counter() - started, transport.last_ms / 1000

        def in_app(category: str | None, q: str | None, page: int) -> float:
            data = inputs(category=category or "All", query=q or "", page=page)
            return gradio_call(http, app.url, "marketplace_search", data, session=session).total_s

        for index, (category, q, page) in enumerate(mix):
            times = out["search" if q else "category"]
            if index % 2:
                times["app"].append(in_app(category, q, page))
            took, server_took = in_server(category, q, page)
            times["client"].append(took)
            times["server"].append(server_took)
            if not index % 2:
                times["app"].append(in_app(category, q, page))
            if time.monotonic() > deadline:
                break
        client.close()
    return out


def run(quick: bool = False) -> list[Row]:
    """Search and category filter: p95 in the server, and through the app."""
    count, budget = (60, 60.0) if quick else (600, 240.0)
    out = measure(count, budget)
    rows: list[Row] = []
    for kind, label in (("search", "search words"), ("category", "category filter")):
        times = out[kind]
        server, client, app = ms(p95(times["server"])), ms(p95(times["client"])), ms(p95(times["app"]))
        rows.append(
            Row(
                what=f"marketplace {ITEMS:,}: {label}, in the server",
                baseline="-",
                measured=f"p95 {fmt_ms(server)} (round trip via the client p95 {fmt_ms(client)})",
                goal=f"p95 <= {SERVER_GOAL_MS:g} ms",
                met=server <= SERVER_GOAL_MS,
                note=f"{len(times['server'])} queries; median {fmt_ms(ms(median(times['server'])))}",
            )
        )
        rows.append(
            Row(
                what=f"marketplace {ITEMS:,}: {label}, through the app",
                baseline="-",
                measured=f"p95 {fmt_ms(app)}",
                goal=f"p95 <= {APP_GOAL_MS:g} ms",
                met=app <= APP_GOAL_MS,
                note=f"{len(times['app'])} queries; median {fmt_ms(ms(median(times['app'])))}",
            )
        )
    return rows
