"""The Assistants Guide's own Python examples, run against the local server with only the address changed.

The code below is copied from the guide as text. Each snippet is run as a reader would run it: the
service's base URL and the placeholder key are replaced by the local server's, and (for the snippets that
use the guide's example assistant id) that id is replaced by the one the "Creating" snippet printed.
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from backend import errors

GUIDE_BASE_URLS = ("https://neuralbox.top/api/v2", "https://elumenta.ru/api/v2")
GUIDE_KEY = "nb_YOUR_API_KEY"
GUIDE_ASSISTANT_ID = "asst_01j9x2abc123"

CREATING = """\
import requests

response = requests.post(
    "https://elumenta.ru/api/v2/assistants",
    headers={"Authorization": "Bearer nb_YOUR_API_KEY"},
    json={
        "name": "Customer Support Bot",
        "model": "claude-sonnet-4.5",
        "instructions": "You are a friendly customer support agent for Elumenta. Answer questions about pricing, models, and API usage. Be concise and helpful. If you don't know the answer, say so.",
        "description": "Handles customer support queries"
    }
)

assistant = response.json()
print(assistant["id"])  # asst_01j9x2abc123
"""

USING = """\
response = requests.post(
    "https://elumenta.ru/api/v2/generate",
    headers={"Authorization": "Bearer nb_YOUR_API_KEY"},
    json={
        "assistant_id": "asst_01j9x2abc123",
        "messages": [
            {"role": "user", "content": "What's the difference between Pro and VIP plans?"}
        ]
    }
)

print(response.json()["content"])
"""

MARKETPLACE = """\
# List available marketplace assistants
response = requests.get(
    "https://elumenta.ru/api/v2/assistants/marketplace",
    headers={"Authorization": "Bearer nb_YOUR_API_KEY"},
    params={"category": "productivity", "limit": 10}
)

for assistant in response.json()["items"]:
    print(f"{assistant['name']} — {assistant['description']}")
"""

MANAGING = """\
# List your assistants
requests.get("/api/v2/assistants", headers=headers)

# Update an assistant
requests.put("/api/v2/assistants/asst_01j9x2abc123",
    headers=headers,
    json={"instructions": "Updated instructions..."}
)

# Delete an assistant
requests.delete("/api/v2/assistants/asst_01j9x2abc123", headers=headers)
"""


class RecordingRequests:
    """The `requests` module, keeping every response so a test can check what a snippet did."""

    def __init__(self) -> None:
        self.responses: list[requests.Response] = []

    def __getattr__(self, name: str) -> Any:
        call = getattr(requests, name)

        def record(*args: Any, **kwargs: Any) -> requests.Response:
            response = call(*args, **kwargs)
            self.responses.append(response)
            return response

        return record


def localise(code: str, base_url: str, api_key: str, assistant_id: str | None = None) -> str:
    """The snippet with the guide's address and key (and example id) swapped for the local server's."""
    for guide_url in GUIDE_BASE_URLS:
        code = code.replace(guide_url, base_url)
    code = code.replace(GUIDE_KEY, api_key)
    if assistant_id is not None:
        code = code.replace(GUIDE_ASSISTANT_ID, assistant_id)
    return code


def run(code: str, namespace: dict[str, Any] | None = None) -> str:
    """Execute a snippet and return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<guide example>", "exec"), {"__name__": "__guide__", **(namespace or {})})
    return out.getvalue()


@pytest.fixture
def created_id(local_server) -> str:
    printed = run(localise(CREATING, local_server.base_url, local_server.api_key))
    return printed.strip()


def test_creating_an_assistant_prints_its_id(local_server, created_id, client):
    assert re.fullmatch(r"asst_[a-z0-9]+", created_id)
    assistant = client.assistants.get(created_id)
    assert (assistant.name, assistant.model) == ("Customer Support Bot", "claude-sonnet-4.5")


def test_using_an_assistant_prints_the_content(local_server, created_id, client):
    code = localise(USING, local_server.base_url, local_server.api_key, created_id)
    printed = run(code, {"requests": requests})
    question = [{"role": "user", "content": "What's the difference between Pro and VIP plans?"}]
    expected = client.generate(question, assistant_id=created_id).content  # the echo engine is deterministic
    assert expected and printed == expected + "\n"


def test_marketplace_prints_name_and_description_of_productivity_assistants(local_server, client):
    printed = run(localise(MARKETPLACE, local_server.base_url, local_server.api_key), {"requests": requests})
    lines = printed.splitlines()
    items = client.marketplace.list(category="productivity", limit=10).items
    assert items and lines == [f"{item.name} — {item.description}" for item in items]


def test_managing_assistants_lists_updates_and_deletes(local_server, created_id, client):
    # The snippet's URLs are relative and `headers` is undefined: a reader prefixes their server and sets it.
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(local_server.base_url))
    code = localise(MANAGING, local_server.base_url, local_server.api_key, created_id)
    code = code.replace('("/api/v2/', f'("{origin}/api/v2/')
    recorder = RecordingRequests()
    run(code, {"requests": recorder, "headers": {"Authorization": f"Bearer {local_server.api_key}"}})

    listed, updated, deleted = recorder.responses
    assert listed.status_code == 200 and created_id in listed.text
    assert updated.status_code == 200 and updated.json()["instructions"] == "Updated instructions..."
    assert updated.json()["name"] == "Customer Support Bot"  # the other fields are left alone
    assert deleted.status_code in (200, 204)
    with pytest.raises(errors.NotFoundError):
        client.assistants.get(created_id)
