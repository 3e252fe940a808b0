"""DNS rebinding in a real browser: a name that resolves to 127.0.0.1 but is not the studio's is refused,
while the studio's own address works."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, wait_ready

pytestmark = pytest.mark.browser


def test_a_rebound_name_gets_a_refusal_page_not_the_studio(studio):
    port = urlsplit(studio.url).port
    with sync_playwright() as playwright:
        # Chromium resolves the attacker's name to this machine, as a rebinding DNS server would make it.
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP rebound.attacker.test 127.0.0.1"],
        )  # fmt: skip
        try:
            page = chromium.new_page()
            answer = page.goto(f"http://rebound.attacker.test:{port}/")
            assert answer is not None and answer.status == 403
            expect(
                page.get_by_text("does not answer to the host name 'rebound.attacker.test'")
            ).to_be_visible()
            expect(page.get_by_role("tablist")).to_have_count(0)
            page.goto(studio.url)
            wait_ready(page)
        finally:
            chromium.close()
