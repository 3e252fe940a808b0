"""Two studio processes behind a real nginx, set up as README's "Several studio processes on one PostgreSQL".

A page's every request (the page, its configuration, its event streams, its heartbeat, uploads and
downloads) reaches the process that holds its session, so its conversation and a Stop work; browsers are
spread over both processes; what one process saves in the store the other reads; the studio's Host check
still applies through the proxy; and a browser whose process stops goes on with the other one.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from gradio_client import Client

from bench.cluster import NAME, Proxy, Studio, proxy, studios
from deploy.nginx import Logged
from tests.deploy.page import AFFINITY, Page, chat_text, completed

pytestmark = pytest.mark.nginx

LOG_WAIT_S = 20.0  # nginx logs a request when its answer ends: an upper bound, never a speed test


def upstreams_once_logged(front: Proxy, affinity: str, path: str = "", count: int = 1) -> set[str]:
    """The processes that answered a browser's requests, once `count` requests for `path` have been logged."""
    deadline = time.monotonic() + LOG_WAIT_S
    while time.monotonic() < deadline:
        lines = [line for line in front.nginx.logged() if line.affinity == affinity]
        if sum(line.path.startswith(path) for line in lines) >= count:
            return {line.upstream for line in lines}
        time.sleep(0.05)
    raise AssertionError(f"nginx logged fewer than {count} requests for {path!r} of browser {affinity}")


def _route(line: Logged) -> str:
    """A logged request's path without its query or the file's name (`/gradio_api/file=...`)."""
    return line.path.split("?")[0].split("=")[0]


def logged_once(front: Proxy, affinity: str, paths: set[str]) -> list[Logged]:
    """A browser's logged requests, once a request for each of `paths` is among them."""
    deadline = time.monotonic() + LOG_WAIT_S
    while time.monotonic() < deadline:
        lines = [line for line in front.nginx.logged() if line.affinity == affinity]
        if paths <= {_route(line) for line in lines}:
            return lines
        time.sleep(0.05)
    missing = paths - {_route(line) for line in front.nginx.logged() if line.affinity == affinity}
    raise AssertionError(f"nginx logged no request for {sorted(missing)} of browser {affinity}")


def page_on(front: Proxy, studio: Studio) -> Page:
    """A page nginx serves from `studio`: new browsers are given cookies until one is routed there."""
    for _ in range(60):
        page = Page(front.url, front.host)
        page.http.get("/robots.txt").raise_for_status()
        if upstreams_once_logged(front, page.affinity) == {studio.upstream}:
            return page.open()
        page.http.close()
    raise AssertionError(f"no new browser was routed to {studio.upstream} in 60 tries")


def test_every_request_of_a_page_reaches_the_process_that_holds_its_session(deployment):
    front = deployment.proxy
    with Page(front.url, front.host) as page:
        assert page.affinity, "nginx gave the browser no affinity cookie with the page"
        first = chat_text(page.call("chat", Message="hello"))
        second = chat_text(page.call("chat", Message="and again"))
        # The second answer knows of the first: the conversation (a gr.State) is in the process that answered.
        assert first.startswith("[turn 1] You said: hello")
        assert second.startswith("[turn 2] You said: and again")

        made = page.call("create_assistant", Name="Porter", Model="gpt-5-nano", Instructions="Carry.")
        assert made[0] == "Created “Porter”."
        exported, notice = page.call("export_assistants", Export="selected", **{"Assistant ID": made[-1]})
        assert notice.startswith("Exported 1 assistant")
        link_host, content = page.download(exported)
        assert link_host == front.host  # the link is built from the name and port the browser used
        document = json.loads(content)
        document["assistants"][0]["name"] = "Porter 2"
        upload = page.upload("porter.json", json.dumps(document).encode())
        report, summary = page.call("import_assistants", **{"File to import (.json)": upload})
        assert summary.startswith("Created 1 of 1 assistants"), summary
        affinity = page.affinity
    expected = {
        "/",
        "/config",
        "/gradio_api/queue/join",
        "/gradio_api/queue/data",
        "/gradio_api/upload",
        "/gradio_api/file",
        f"/gradio_api/heartbeat/{page.session}",
    }
    lines = logged_once(front, affinity, expected)
    served = {line.upstream for line in lines}
    assert len(served) == 1, f"one page was served by {sorted(served)}"
    assert all(len(line.tried) == 1 for line in lines)


def test_stop_reaches_the_answer_that_is_streaming(deployment):
    """Stop is a second event of the session: it must reach the process whose answer it stops, and the page
    must have seen the answer begin (events passed on as they come) to press it in time."""
    front = deployment.proxy
    words = " ".join(f"w{n}" for n in range(1, 61))  # at 40 ms a word, 2.4 s of answer
    with Page(front.url, front.host) as page:
        chat = page.join("chat", Message=words)
        stopped = final = None
        for message in page.messages():
            if stopped is None and message["msg"] == "process_generating" and "[turn " in json.dumps(message):
                stopped = page.join("stop")
            if message["msg"] == "process_completed" and message["event_id"] == chat:
                final = completed(message)
        assert stopped is not None and final is not None
        answer = chat_text(final)
        assert answer.startswith("[turn") and "w60" not in answer, answer  # cut short where Stop found it
        assert len(upstreams_once_logged(front, page.affinity, "/gradio_api/queue/join", count=2)) == 1


def test_new_browsers_are_spread_over_both_processes(deployment):
    """Each browser without a cookie gets a new random one: the processes share the browsers."""
    front = deployment.proxy
    affinities = set()
    for _ in range(24):
        page = Page(front.url, front.host)
        page.http.get("/robots.txt").raise_for_status()  # a browser's first request
        affinities.add(page.affinity)
        page.http.close()
    assert len(affinities) == 24
    used = set().union(*(upstreams_once_logged(front, affinity) for affinity in affinities))
    # All 24 on one process by chance: once in 8 million runs.
    assert used == {studio.upstream for studio in deployment.studios}


def test_history_saved_through_one_process_is_read_through_the_other(deployment):
    front = deployment.proxy
    one, other = deployment.studios
    with page_on(front, one) as first, page_on(front, other) as second:
        name = f"Tutor {uuid.uuid4().hex[:6]}"
        *_, tutor = first.call("create_assistant", Name=name, Model="gpt-5-nano", Instructions="One.")
        changed = first.call(
            "update_assistant",
            **{"Assistant ID": tutor, "Name": name, "Model": "gpt-5-nano", "Instructions": "Two."},
            **{"Note for this version (optional)": "shorter"},
        )
        assert changed[0].startswith("Saved"), changed[0]

        table, summary, *_ = second.call("history", **{"Assistant ID": tutor})
        assert [row[0] for row in table["data"]] == ["v2", "v1"]
        assert "shorter" in json.dumps(table["data"][0])
        labelled = second.call(
            "history_set_label", **{"Assistant ID": tutor, "Label": "production", "Version": 1}
        )
        assert "points at version 1" in labelled[0]

        table, summary, *_ = first.call("history", **{"Assistant ID": tutor})
        assert "production: v1" in summary
        served = {first.affinity: one.upstream, second.affinity: other.upstream}
    for affinity, upstream in served.items():
        assert upstreams_once_logged(front, affinity, "/gradio_api/heartbeat/") == {upstream}


def test_a_script_with_gradio_client_keeps_to_one_process(deployment):
    """gradio_client keeps the cookies of its first answer, so a script's session stays on one process."""
    front = deployment.proxy
    client = Client(front.url, verbose=False)
    try:
        client.predict(message="first", api_name="/chat")
        chatbot, _ = client.predict(message="second", api_name="/chat")
        assert "[turn 2] You said: second" in json.dumps(chatbot)
        affinity = client.cookies[AFFINITY]
    finally:
        client.close()
    assert len(upstreams_once_logged(front, affinity, "/gradio_api/queue/data")) == 1


def test_the_studio_still_answers_only_to_its_names_through_nginx(deployment):
    """nginx passes the browser's Host on; the studios were given the public name with --allow-host."""
    front = deployment.proxy
    with Page(front.url, front.host) as page:
        assert page.components  # the page and its configuration loaded under the public name
    stranger = Page(front.url, f"rebound.attacker.test:{front.nginx.port}")
    refused = stranger.http.get("/")
    stranger.http.close()
    assert refused.status_code == 403
    assert "does not answer to the host name 'rebound.attacker.test'" in refused.text
    assert "--allow-host rebound.attacker.test" in refused.text and NAME not in refused.text


def test_both_processes_give_browsers_the_same_secret(deployment):
    """Conversations kept in a browser are encrypted with the data folder's secret: any process that serves
    the browser later must hold the same one."""
    secrets = set()
    for studio in deployment.studios:
        with Page(studio.url, studio.upstream) as page:
            found = [c["props"]["secret"] for c in page.components.values() if c["type"] == "browserstate"]
        assert len(found) == 1
        secrets.add(found[0])
    assert secrets == {(deployment.data_dir / "browser_secret").read_text(encoding="utf-8").strip()}


def test_a_browser_whose_process_stops_goes_on_with_another(deployment):
    """nginx sends the browser to another process; its conversation there starts over (the kept copy in
    the browser brings it back on a reload), and nothing fails."""
    kept = deployment.studios[0]
    settings = {
        "api": deployment.api,
        "database_url": deployment.database_url,
        "data_dir": deployment.data_dir,
    }
    with studios(1, **settings) as started, proxy([kept, *started]) as front:
        leaving = started[0]
        page = page_on(front, leaving)
        try:
            assert chat_text(page.call("chat", Message="before")).startswith("[turn 1] You said: before")
            leaving.proc.stop()
            answer = chat_text(page.call("chat", Message="after"))
            assert answer.startswith("[turn 1] You said: after")
            # Each call read its own event stream: the first from the process that left, the second from
            # the one that was kept.
            assert upstreams_once_logged(front, page.affinity, "/gradio_api/queue/data", count=2) == {
                leaving.upstream,
                kept.upstream,
            }
        finally:
            page.close()


def test_a_session_whose_requests_reach_another_process_starts_over(deployment):
    """What the cookie prevents: the same session sent to the other process finds no conversation there."""
    front = deployment.proxy
    one, other = deployment.studios
    elsewhere = page_on(front, other)
    elsewhere.close()
    with page_on(front, one) as page:
        assert chat_text(page.call("chat", Message="one")).startswith("[turn 1] You said: one")
        page.http.cookies.clear()
        page.http.cookies.set(AFFINITY, elsewhere.affinity)
        assert chat_text(page.call("chat", Message="two")).startswith("[turn 1] You said: two")
