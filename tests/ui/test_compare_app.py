"""Compare with three columns through the launched studio, scripted with gradio_client."""

from __future__ import annotations

from gradio_client import Client

from tests.ui.test_playground_app import texts


def test_three_columns_through_the_named_endpoints(launched_studio, local_server):
    from backend.client import AssistantsClient

    with AssistantsClient(base_url=local_server.base_url, api_key=local_server.api_key) as api:
        poet = api.assistants.create(name="Poet", model="gpt-5-nano", instructions="Rhyme.")
    client = Client(launched_studio, verbose=False)
    client.predict(f"mine:{poet.id}", api_name="/open_assistant")
    client.predict(api_name="/compare_add_column")
    client.predict(2, "", "current", "gpt-5", 0.2, None, "Rhyme in French.", api_name="/compare_column")
    client.predict(3, "blank", "current", "", 0.7, None, "", api_name="/compare_column")
    first, second, third, fourth, _ = client.predict("autumn", api_name="/compare")
    assert fourth == []  # only three columns
    assert texts(first)[-1].startswith("[turn 1 | instructions 6 chars] You said: autumn")
    assert texts(second)[-1].startswith(
        "[turn 1 | instructions 16 chars] You said: autumn"
    )  # its edited copy
    assert "gpt-5 · answered by echo · 2 tokens" in texts(second)[-1]
    assert texts(third)[-1].startswith("[turn 1] You said: autumn")  # the blank assistant, no instructions
    assert "Recorded: column 1" in client.predict(1, api_name="/compare_prefer")
    again = client.predict(3, api_name="/compare_regenerate")
    assert texts(again[2])[-1].startswith("[turn 1] You said: autumn")
    client.predict(api_name="/compare_stop")
    mode, chat, instructions, model, _ = client.predict(2, api_name="/compare_continue")
    assert mode == "Chat" and instructions == "Rhyme in French." and model == "gpt-5"
    assert texts(chat)[-1].startswith("[turn 1 | instructions 16 chars] You said: autumn")
