"""The studio answers only to the names it is served as: a page that rebinds its own name to 127.0.0.1
(DNS rebinding) is refused, without a browser: raw HTTP with a forged Host header."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.ui.conftest import _async_client, _close_in_server_loop, launch_studio
from ui.context import StudioContext
from ui.hosts import AllowedHosts, host_name


@pytest.fixture
def studio(local_server) -> Iterator:
    """Launch the studio with launch options; yields a function that returns (blocks, url)."""
    launched = []

    def start(**options):
        client = _async_client(local_server)
        blocks, url = launch_studio(StudioContext(client=client, server_label="Local server"), **options)
        launched.append((blocks, client))
        return blocks, url

    yield start
    for blocks, client in launched:
        _close_in_server_loop(blocks, client)
        blocks.close()


def get(url: str, host: str, path: str = "config") -> httpx.Response:
    return httpx.get(f"{url}{path}", headers={"Host": host}, timeout=30)


def test_a_rebound_name_is_refused_and_told_how_to_allow_it(studio):
    _, url = studio()
    port = urlsplit(url).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"app.localhost:{port}"):
        assert get(url, host).status_code == 200, host
    refused = get(url, f"attacker.example:{port}")
    assert refused.status_code == 403 and refused.headers["content-type"].startswith("text/plain")
    assert "does not answer to the host name 'attacker.example'" in refused.text
    assert "--allow-host attacker.example" in refused.text and "STUDIO_ALLOWED_HOSTS" in refused.text
    # Not only pages: the API that runs the studio's actions is refused too.
    call = httpx.post(
        f"{url}gradio_api/call/status", json={"data": []}, headers={"Host": "attacker.example"}, timeout=30
    )
    assert call.status_code == 403
    assert get(url, "", path="").status_code == 403  # no name at all is no allowed name


def test_names_added_with_allow_host_are_answered(studio):
    _, url = studio(allowed_hosts=["studio.lan", ".corp.example"])
    for host in ("studio.lan", "STUDIO.LAN:7860", "x.corp.example", "corp.example"):
        assert get(url, host).status_code == 200, host
    for host in ("studio.lan.attacker.example", "notcorp.example", "lan"):
        assert get(url, host).status_code == 403, host


def test_the_share_links_host_is_answered_once_gradio_made_it(studio):
    blocks, url = studio()
    assert get(url, "abcd1234.gradio.live").status_code == 403
    # What Gradio sets once its tunnel is up (that needs the internet, so the test sets it): the tunnel
    # forwards requests with the link's own Host.
    blocks.share_url = "https://abcd1234.gradio.live"
    assert get(url, "abcd1234.gradio.live").status_code == 200
    assert get(url, "other.gradio.live").status_code == 403


@pytest.mark.parametrize(
    ("header", "name"),
    [("127.0.0.1:7860", "127.0.0.1"), ("[::1]:7860", "::1"), ("Studio.Lan.", "studio.lan"), ("x:y", "x:y")],
)
def test_host_names_are_read_without_port_or_case(header, name):
    assert host_name(header) == name


def test_the_host_given_to_listen_on_is_allowed_and_any_address_is():
    assert AllowedHosts("mybox.lan").allows("mybox.lan")
    assert not AllowedHosts("0.0.0.0").allows("mybox.lan")
    assert AllowedHosts("0.0.0.0").allows("192.168.1.20") and AllowedHosts("127.0.0.1").allows("fe80::1")
    assert AllowedHosts("127.0.0.1", ["*"]).allows("anything.example")
