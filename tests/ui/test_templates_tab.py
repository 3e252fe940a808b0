"""Use-Case Templates: the shipped catalogue, picking, creating in one click, and trying one as it is."""

from __future__ import annotations

import json

import pytest
from gradio_client import Client

from backend.schemas import DESCRIPTION_MAX, INSTRUCTIONS_MAX, NAME_MAX
from backend.server.catalog import MODELS
from ui import assistants_tab
from ui import templates_tab as tab


def test_shipped_templates_are_all_creatable():
    templates, problem = tab.load_templates()
    assert problem == "" and len(templates) >= 4
    assert len({t.id for t in templates}) == len(templates)
    for template in templates:
        assert template.name.strip() and len(template.name) <= NAME_MAX, template.id
        assert template.model in MODELS, template.id
        assert template.instructions.strip() and len(template.instructions) <= INSTRUCTIONS_MAX, template.id
        assert len(template.description) <= DESCRIPTION_MAX, template.id
        assert template.origin in {"guide", "studio"}, template.id
    assert any(t.origin == "guide" for t in templates)


def test_a_broken_templates_file_is_explained_not_fatal(tmp_path):
    bad = tmp_path / "templates.json"
    bad.write_text("{oops", encoding="utf-8")
    templates, problem = tab.load_templates(bad)
    assert templates == [] and "could not be read" in problem
    assert tab.load_templates(tmp_path / "missing.json")[0] == []


def test_pick_fills_the_form_and_cards_escape_text():
    templates, _ = tab.load_templates()
    first = templates[0]
    form = tab.pick_template(templates, first.id)
    assert (form.name, form.model, form.instructions, form.description) == (
        first.name, first.model, first.instructions, first.description,
    )  # fmt: skip
    assert form.created_id == "" and first.name in form.detail
    assert tab.pick_template(templates, first.name).name == first.name
    assert "No template" in tab.pick_template(templates, "tpl_nope").detail
    card = tab.template_card(
        tab.Template(id="x", name="[a](javascript:alert(1))", use_case="<img onerror=x>")
    )
    assert "\\[a\\](javascript" in card and "&lt;img" in card and "<img" not in card


def test_try_template_opens_it_unsaved():
    templates, _ = tab.load_templates()
    request = tab.try_template(templates, templates[0].id)
    assert request["kind"] == "template" and request["assistant_id"] is None
    assert request["item"]["instructions"] == templates[0].instructions
    assert request["item"]["model"] == templates[0].model
    assert tab.try_template(templates, "tpl_nope") is None


@pytest.mark.anyio
async def test_create_from_template_and_failure_leaves_no_id(studio_ctx, demo_ctx):
    templates, _ = tab.load_templates()
    form = tab.pick_template(templates, templates[0].id)
    made = await tab.create_from_template(
        studio_ctx, form.name, form.model, form.instructions, form.description
    )
    assert made.notice == f"Created “{form.name}”." and made.assistant_id.startswith("asst_")
    listed = await assistants_tab.list_assistants(studio_ctx, "")
    assert list(listed.table["Name"]) == [form.name]
    refused = await tab.create_from_template(studio_ctx, "", form.model, form.instructions, form.description)
    assert refused.assistant_id == "" and "Name is required" in refused.name_error
    demo = await tab.create_from_template(
        demo_ctx, form.name, form.model, form.instructions, form.description
    )
    assert demo.assistant_id == "" and "read-only demo" in demo.notice


def test_template_flow_through_the_launched_studio(launched_studio):
    client = Client(launched_studio, verbose=False)
    templates, _ = tab.load_templates()
    chosen = templates[1]
    name, model, instructions, description, detail, created_id = client.predict(
        chosen.id, api_name="/pick_template"
    )
    assert (name, model, instructions) == (
        chosen.name,
        chosen.model,
        chosen.instructions,
    ) and created_id == ""
    notice, *errors, new_id = client.predict(
        f"{name} (mine)", model, instructions + " Be brief.", description, api_name="/create_from_template"
    )
    assert notice == f"Created “{name} (mine)”." and errors == ["", "", "", ""] and new_id.startswith("asst_")
    table, _ = client.predict("", api_name="/list_assistants")
    assert [row[0] for row in table["data"]] == [f"{name} (mine)"]
    form = client.predict(new_id, api_name="/get_assistant")
    assert form[3] == instructions + " Be brief."
    assert json.dumps(form).count("nb_") == 0
