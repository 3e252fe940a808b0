"""The factory and the launch: tabs in order, labels, named endpoints, the queue, login, no key in the page."""

from __future__ import annotations

import gradio as gr
import httpx
import pytest
from gradio_client import Client

from ui import app as studio
from ui.context import (
    ASSISTANTS_TAB_ID,
    MARKETPLACE_TAB_ID,
    PLAYGROUND_TAB_ID,
    TEMPLATES_TAB_ID,
    StudioContext,
)
from ui.suites_tab import SUITES_TAB_ID
from ui.templates_tab import load_templates
from ui.usage_tab import USAGE_TAB_ID

ENDPOINTS = {
    "status", "list_assistants", "get_assistant", "create_assistant", "update_assistant", "delete_assistant",
    "export_assistants", "import_assistants", "marketplace_search", "marketplace_add", "pick_template",
    "create_from_template",
}  # fmt: skip
# Components a person reads or types into; each must carry a label (browser tests find them by it).
LABELLED = {
    "textbox",
    "dropdown",
    "dataframe",
    "file",
    "number",
    "radio",
    "slider",
    "chatbot",
    "dataset",
    "checkbox",
}


def _config(url: str) -> dict:
    return httpx.get(f"{url}config", timeout=30).json()


def _components(config: dict, kind: str) -> list[dict]:
    return [c["props"] for c in config["components"] if c["type"] == kind]


def test_title_tabs_and_labels(launched_studio):
    config = _config(launched_studio)
    assert config["title"] == "Assistant Studio" and config["analytics_enabled"] is False
    tabs = [(t["label"], t["id"]) for t in _components(config, "tabitem")]
    assert tabs == [
        ("My Assistants", ASSISTANTS_TAB_ID),
        ("Marketplace", MARKETPLACE_TAB_ID),
        ("Playground", PLAYGROUND_TAB_ID),
        ("Use-Case Templates", TEMPLATES_TAB_ID),
        ("Test Suites", SUITES_TAB_ID),
        ("Usage", USAGE_TAB_ID),
    ]
    unlabelled = [(c["type"], c["props"].get("elem_id")) for c in config["components"]
                  if c["type"] in LABELLED and not str(c["props"].get("label") or "").strip()]  # fmt: skip
    assert unlabelled == []
    buttons = [b.get("value") for b in _components(config, "button")]
    assert all(str(text or "").strip() for text in buttons), buttons
    assert {"Create assistant", "Confirm delete", "Add to My Assistants", "Open in Playground"} <= set(
        buttons
    )
    elem_ids = {c["props"].get("elem_id") for c in config["components"]}
    assert {
        "assistants-table",
        "assistant-name",
        "market-table",
        "templates-gallery",
        "studio-status",
    } <= elem_ids


def test_every_action_has_a_named_endpoint(launched_studio):
    api = Client(launched_studio, verbose=False).view_api(print_info=False, return_format="dict")
    assert {name.lstrip("/") for name in api["named_endpoints"]} >= ENDPOINTS


def test_status_endpoint_and_no_key_anywhere(launched_studio, local_server):
    status = Client(launched_studio, verbose=False).predict(api_name="/status")
    assert status.startswith("**Local server** · answering")
    page = (
        httpx.get(launched_studio, timeout=30).text + httpx.get(f"{launched_studio}config", timeout=30).text
    )
    assert (
        "Assistant Studio" in page and local_server.api_key not in page and local_server.api_key not in status
    )


def test_demo_hides_changes_but_keeps_browsing(launched_demo_studio):
    config = _config(launched_demo_studio)
    visible = {b.get("value"): b.get("visible") for b in _components(config, "button")}
    for hidden in (
        "Create assistant",
        "Save changes",
        "Delete…",
        "Import assistants",
        "Add to My Assistants",
    ):
        assert visible[hidden] is False, hidden
    for shown in ("Refresh list", "Search", "Try it in the Playground", "Export JSON"):
        assert visible[shown] is True, shown
    assert any("Read-only demo" in str(m.get("value")) for m in _components(config, "markdown"))


def test_queue_lets_many_people_chat_at_once(studio_ctx_sync):
    blocks = studio.configure_queue(studio.create_app(studio_ctx_sync))
    assert blocks._queue.default_concurrency_limit >= 50
    options = studio.launch_kwargs(host="127.0.0.1", port=7861)
    assert (
        options["max_threads"] >= 50 and options["server_name"] == "127.0.0.1" and options["share"] is False
    )
    assert isinstance(options["theme"], gr.themes.Base) and ".field-error" in options["css"]
    assert options["auth"] is None and "gradio" not in options["footer_links"]


def test_login_is_required_when_given(studio_ctx_sync, launch):
    url = launch(studio_ctx_sync, auth=("ada", "s3cret"))
    assert httpx.get(f"{url}config", timeout=30).status_code == 401
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("login", data={"username": "ada", "password": "wrong"}).status_code == 400
        assert http.post("login", data={"username": "ada", "password": "s3cret"}).status_code == 200
        assert http.get("config").json()["title"] == "Assistant Studio"


@pytest.fixture
def studio_ctx_sync(local_server):
    """A context whose client is never used: for building (not serving) the studio."""
    from backend.client import AsyncAssistantsClient

    return StudioContext(
        client=AsyncAssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key)
    )


def test_open_requests_switch_to_the_chat_tab():
    request, tabs, notice = studio.open_mine("asst_123")
    assert request["kind"] == "mine" and request["assistant_id"] == "asst_123" and notice == ""
    assert isinstance(tabs, gr.Tabs) and tabs.selected == PLAYGROUND_TAB_ID
    assert studio.open_mine("asst_123")[0]["nonce"] != request["nonce"]
    skipped = studio.open_mine("")
    assert skipped[0] == gr.skip() and "Select an assistant" in skipped[2]
    assert studio.open_created("") == (gr.skip(), gr.skip(), gr.skip())
    item = {"name": "Day Planner", "description": "Plans", "uses": 3}
    market, _, _ = studio.open_market_item(item)
    assert market["kind"] == "market" and market["item"]["name"] == "Day Planner"
    assert "Pick an assistant" in studio.open_market_item(None)[2]
    templates, _ = load_templates()
    tried, tabs, _ = studio.open_template(templates, templates[0].id)
    assert tried["kind"] == "template" and tried["item"]["name"] == templates[0].name
    assert (
        tabs.selected == PLAYGROUND_TAB_ID and "Pick a template" in studio.open_template(templates, None)[2]
    )


def test_every_handler_has_type_hints_gradio_can_read(studio_ctx_sync):
    """Gradio finds a handler's event data (gr.SelectData, gr.EditData) through its type hints; one hint it
    cannot resolve (a name defined only inside a function) hides them all, and the handler is then called
    with its arguments shifted by one."""
    from gradio.utils import get_type_hints

    blocks = studio.create_app(studio_ctx_sync)
    unreadable = [
        block_fn.name
        for block_fn in blocks.fns.values()
        if getattr(block_fn.fn, "__annotations__", None) and not get_type_hints(block_fn.fn)
    ]
    assert unreadable == []
