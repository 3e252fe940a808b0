"""{{variables}}: found in order, filled in, and every problem named before anything is sent."""

from __future__ import annotations

import pytest

from studio import variables as v
from studio.conversation import AssistantProfile, ChatParameters, ChatSession


def test_names_come_in_order_of_first_appearance_with_spaces_allowed_inside_the_braces():
    text = "You are {{role}}. Speak {{ language }} to {{name_2}}; as {{role}} would. Ünïcode: {{día}}"
    assert v.names(text) == ["role", "language", "name_2", "día"]


def test_rendering_fills_values_as_typed_and_an_escaped_pair_stays_literal():
    text = 'Hi {{name}}! JSON looks like \\{{"a": 1}} and \\{{name}} is written so.'
    assert (
        v.render(text, {"name": "Bo {{x}}"})
        == 'Hi Bo {{x}}! JSON looks like {{"a": 1}} and {{name}} is written so.'
    )


def test_an_empty_variable_is_named_and_nothing_is_rendered():
    with pytest.raises(v.VariableError) as refused:
        v.render("{{a}} and {{b}} and {{c}}", {"a": "x", "b": "  "})
    assert refused.value.missing == ["b", "c"]
    assert "“b”, “c”" in str(refused.value) and "nothing was sent" in str(refused.value)


def test_a_malformed_placeholder_is_pointed_out_with_its_line_and_column():
    text = "Line one\nSay {{first name}} please"
    found = v.scan(text)
    assert found.names == () and [(m.line, m.column) for m in found.malformed] == [(2, 5)]
    message = v.problems(text, {})
    assert "line 2, column 5" in message and "{{first name}}" in message and "\\{{" in message
    with pytest.raises(v.VariableError):
        v.render(text, {})


def test_a_test_case_may_set_a_variable_to_empty_on_purpose():
    assert v.render("[{{x}}]", {"x": ""}, allow_empty=True) == "[]"
    with pytest.raises(v.VariableError, match="not given"):
        v.render("[{{x}}]", {}, allow_empty=True)


def test_a_call_with_variables_sends_the_filled_text_as_system_with_the_assistants_model():
    profile = AssistantProfile(kind="mine", name="Tutor", model="gpt-5", instructions="Teach {{topic}}.",
                               assistant_id="asst_1", key="mine:asst_1")  # fmt: skip
    chat = ChatSession(assistant=profile, variables={"topic": "chemistry"})
    args = chat.request_arguments("", ChatParameters(), "gpt-5-nano")
    assert args == {"temperature": 0.7, "model": "gpt-5", "system": "Teach chemistry."}
    chat.variables = {}
    with pytest.raises(v.VariableError, match="topic"):
        chat.request_arguments("", ChatParameters(), "gpt-5-nano")
    plain = ChatSession(assistant=AssistantProfile(**{**profile.__dict__, "instructions": "Teach."}))
    assert plain.request_arguments("", ChatParameters(), "x")["assistant_id"] == "asst_1"  # by id when it can


def test_exports_record_the_values_used():
    chat = ChatSession(assistant=AssistantProfile(name="T", model="m", instructions="Be {{mood}}."),
                       variables={"mood": "calm", "unused": "x"})  # fmt: skip
    import json

    document = json.loads(chat.to_json("", ChatParameters()))
    assert document["variables"] == {"mood": "calm"}
    assert "- `mood`: calm" in chat.to_markdown("", ChatParameters())
