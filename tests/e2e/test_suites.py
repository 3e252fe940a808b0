"""Test Suites in a browser: run a suite, watch its progress, click into a failing cell for the reasons."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from backend.client import AssistantsClient
from studio.servers import server_key
from studio.store import StoreHandle, default_url
from studio.suites.model import Assertion, Case
from tests.conftest import make_settings
from tests.e2e.conftest import go_to_tab, save_screenshot

pytestmark = pytest.mark.browser
CASES = 12


@pytest.fixture
def server_settings(tmp_path):
    """The echo engine waits 40 ms per word, so a run of 12 cases two at a time takes a few seconds."""
    return make_settings(tmp_path, echo_delay_ms=40)


def test_run_a_suite_and_read_a_failing_cells_reasons(page, studio):
    with AssistantsClient(base_url=studio.server.base_url, api_key=studio.server.api_key) as api:
        geo = api.assistants.create(name="Geography", model="gpt-5-nano", instructions="Be brief.")
    data_dir = studio.server.settings.data_dir
    store = StoreHandle(default_url(data_dir))
    cases = [
        Case(f"city {i}", {"city": f"Town{i}"}, [], [Assertion("contains", f"Town{i}")])
        for i in range(CASES - 1)
    ]
    cases.append(Case("expects Paris", {"city": "Lyon"}, [], [Assertion("contains", "Paris")]))
    store.get().suites.create_suite(server_key("", local_data_dir=data_dir), geo.id, "Capitals",
                                    "Tell me about {{city}}", cases=cases)  # fmt: skip
    store.close()

    panel = go_to_tab(page, "Test Suites")
    picker = panel.get_by_role("combobox", name="Assistant")
    picker.click()
    page.get_by_role("option", name=re.compile(r"^Geography")).click()
    suite = panel.get_by_role("combobox", name="Suite")
    suite.click()
    page.get_by_role("option", name=f"Capitals · {CASES} cases").click()
    cases_grid = panel.get_by_role("grid", name="Cases")
    expect(cases_grid.get_by_role("gridcell", name="expects Paris")).to_be_visible()

    panel.get_by_role("spinbutton", name="Calls at once").fill("2")
    panel.get_by_role("button", name="Run suite").click()
    # While it runs: the progress (cases done, failures so far, time left), in the bar and the status line.
    expect(
        page.get_by_text(re.compile(rf"\d+ of {CASES} done · \d+ failed · about \d+ s left")).first
    ).to_be_visible()
    status = panel.get_by_test_id("markdown").filter(has_text=re.compile(rf"{CASES} of {CASES} done"))
    expect(status.filter(has_text="finished")).to_be_visible()

    matrix = panel.get_by_role("grid", name="Results: cases × targets")
    failing = matrix.get_by_role("gridcell", name="✗ fail")
    expect(failing).to_have_count(1)
    expect(matrix.get_by_role("gridcell", name="✓ pass")).to_have_count(CASES - 1)
    expect(panel.get_by_text(re.compile(r"92%"))).to_be_visible()  # 11 of 12 in the summary
    failing.click()
    detail = panel.locator("#suites-detail")
    expect(detail).to_contain_text("expects Paris · current (v1)")
    expect(detail).to_contain_text("[turn 1 | instructions 9 chars] You said: Tell me about Lyon")
    expect(detail).to_contain_text("The answer does not contain “Paris”")
    save_screenshot(page, "test-suites")


def test_the_suite_picker_counts_a_case_added_in_the_form(page, studio):
    with AssistantsClient(base_url=studio.server.base_url, api_key=studio.server.api_key) as api:
        api.assistants.create(name="Counter", model="gpt-5-nano", instructions="Be brief.")
    panel = go_to_tab(page, "Test Suites")
    panel.get_by_role("combobox", name="Assistant").click()
    page.get_by_role("option", name=re.compile(r"^Counter")).click()
    panel.get_by_role("textbox", name="New suite's name").fill("Smoke")
    panel.get_by_role("button", name="Create suite").click()
    suite = panel.get_by_role("combobox", name="Suite")
    expect(suite).to_have_value("Smoke · 0 cases")

    panel.get_by_role("button", name="Add or edit a case").click()
    panel.get_by_role("textbox", name="Description").fill("capital")
    panel.get_by_role("textbox", name=re.compile(r"^Assertions")).fill("contains: Paris")
    panel.get_by_role("button", name="Save case").click()
    expect(suite).to_have_value("Smoke · 1 case")
    # The picker's new label is not a new choice: the suite is not reopened over the notice.
    expect(panel.locator("#suites-notice")).to_have_text("Added the case.")
    expect(panel.get_by_role("grid", name="Cases").get_by_role("gridcell", name="capital")).to_be_visible()
