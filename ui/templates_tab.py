"""Use-Case Templates: pick a ready-made assistant, adjust it, create it in one click, open it to chat."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
from pydantic import BaseModel, Field
from pydantic import ValidationError as SchemaError

from backend.schemas import MarketplaceItem
from ui.assistants_tab import SaveResult, create_assistant, load_models
from ui.context import StudioContext, open_request
from ui.theme import escape_md

TEMPLATES_PATH = Path(__file__).resolve().parent.parent / "assets" / "templates.json"
PICK_ONE = "Pick a template above: its name, model and instructions fill the form, ready to adjust."


class Template(BaseModel):
    """One entry of assets/templates.json."""

    id: str
    name: str
    use_case: str = ""
    description: str = ""
    model: str = ""
    instructions: str = ""
    origin: str = "studio"
    icon: str = ""
    conversation_starters: list[str] = Field(default_factory=list)


class TemplateForm(NamedTuple):
    name: str
    model: str
    instructions: str
    description: str
    detail: str
    created_id: str


def load_templates(path: Path = TEMPLATES_PATH) -> tuple[list[Template], str]:
    """The templates, and a problem to show if the file could not be read (the tab still works)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["templates"] if isinstance(data, dict) else data
        return [Template.model_validate(entry) for entry in entries], ""
    except (OSError, ValueError, KeyError, TypeError, SchemaError) as err:
        return (
            [],
            f"The templates could not be read ({type(err).__name__}): reinstall Assistant Studio or restore assets/templates.json.",
        )


def template_card(template: Template) -> str:
    """A gallery card: icon and name, and the use case (the gallery cuts longer text mid-word)."""
    title = f"{template.icon} {escape_md(template.name)}".strip()
    return f"**{title}**  \n_{escape_md(template.use_case)}_"


def find_template(templates: list[Template], template_id: str | None) -> Template | None:
    """A template by id (or by name, which is what a person scripting the API may pass)."""
    for template in templates:
        if template_id in (template.id, template.name):
            return template
    return None


def pick_template(templates: list[Template], template_id: str | None) -> TemplateForm:
    """Fill the form from a template; the fields stay editable."""
    template = find_template(templates, template_id)
    if template is None:
        keep = gr.skip()
        return TemplateForm(
            keep,
            keep,
            keep,
            keep,
            f"No template “{escape_md(template_id or '')}”: pick one from the list.",
            keep,
        )
    starters = "".join(f"\n- {escape_md(s)}" for s in template.conversation_starters)
    origin = "from the Assistants Guide" if template.origin == "guide" else "by Assistant Studio"
    detail = f"### {template.icon} {escape_md(template.name)}\n{escape_md(template.use_case)} · {origin}"
    detail += f"\n\nConversation starters:{starters}" if starters else ""
    return TemplateForm(
        template.name, template.model, template.instructions, template.description, detail, ""
    )


async def create_from_template(
    ctx: StudioContext, name: str, model: str | None, instructions: str, description: str
) -> SaveResult:
    """Create an assistant from the (adjusted) template form; the id is empty when nothing was created."""
    result = await create_assistant(ctx, name, model, instructions, description, source="template")
    return result if isinstance(result.assistant_id, str) else result._replace(assistant_id="")


def try_template(templates: list[Template], template_id: str | None) -> dict[str, Any] | None:
    """The Playground's open request to try a template as it is, without creating anything."""
    template = find_template(templates, template_id)
    if template is None:
        return None
    item = MarketplaceItem(
        id=f"template:{template.id}", name=template.name, description=template.description,
        instructions=template.instructions, model=template.model or None, category=template.use_case,
        author="Assistant Studio", conversation_starters=template.conversation_starters,
    )  # fmt: skip
    return open_request("template", item=item.model_dump())


def open_button_for(created_id: str) -> gr.Button:
    """Offer to open the assistant once it exists."""
    return gr.Button(visible=bool(created_id))


@dataclass
class TemplatesTab:
    """What the factory needs from this tab to wire it to the others."""

    templates: list[Template]
    template: gr.Dropdown
    created_id: gr.Textbox
    open_button: gr.Button
    try_button: gr.Button
    created: Any  # the "Create and open in Playground" event, for the factory to chain the opening to
    notice: gr.Markdown


def build_templates_tab(ctx: StudioContext, blocks: gr.Blocks) -> TemplatesTab:
    """Lay out the templates gallery and form, then wire them."""
    editable = not ctx.demo
    templates, problem = load_templates()
    gallery = gr.Dataset(
        components=["markdown"], samples=[[template_card(t)] for t in templates],
        label="Templates", type="index", layout="gallery", samples_per_page=24, elem_id="templates-gallery",
    )  # fmt: skip
    template = gr.Dropdown(
        [(f"{t.icon} {t.name}".strip(), t.id) for t in templates], value=None, label="Template", elem_id="template-pick",
    )  # fmt: skip
    detail = gr.Markdown(problem or PICK_ONE, elem_id="template-detail", label="Template details")
    with gr.Column(variant="panel"):
        name = gr.Textbox(label="Name", elem_id="template-name", interactive=editable)
        name_error = gr.Markdown(elem_classes="field-error", label="Name problem")
        model = gr.Dropdown(
            label="Model", allow_custom_value=True, elem_id="template-model", interactive=editable
        )
        model_error = gr.Markdown(elem_classes="field-error", label="Model problem")
        instructions = gr.Textbox(
            label="Instructions", lines=8, elem_id="template-instructions", interactive=editable
        )
        instructions_error = gr.Markdown(elem_classes="field-error", label="Instructions problem")
        description = gr.Textbox(
            label="Description", lines=2, elem_id="template-description", interactive=editable
        )
        description_error = gr.Markdown(elem_classes="field-error", label="Description problem")
    with gr.Row():
        create_button = gr.Button(
            "Create assistant", variant="primary", visible=editable, elem_id="template-create"
        )
        create_open_button = gr.Button(
            "Create and open in Playground", visible=editable, elem_id="template-create-open"
        )
        try_button = gr.Button("Try it in the Playground", elem_id="template-try")
    with gr.Row():
        created_id = gr.Textbox(
            label="Created assistant ID", interactive=False, elem_id="template-created-id", scale=3
        )
        open_button = gr.Button("Open in Playground", visible=False, elem_id="template-open", scale=1)
    notice = gr.Markdown(elem_id="template-notice", elem_classes="notice", label="Notice")

    # --- Wiring -------------------------------------------------------------------------------------------
    def bind(fn: Callable[..., Any]) -> Callable[..., Any]:
        return functools.partial(fn, ctx)

    def on_card(index: int) -> str:
        return templates[index].id if 0 <= index < len(templates) else gr.skip()

    fields = [name, model, instructions, description]
    saved = [notice, name_error, model_error, instructions_error, description_error, created_id]
    blocks.load(bind(load_models), outputs=model, api_visibility="private")
    gallery.click(on_card, inputs=gallery, outputs=template, api_visibility="private")
    template.change(
        functools.partial(pick_template, templates), inputs=template, outputs=[*fields, detail, created_id],
        api_name="pick_template",
    )  # fmt: skip
    create_button.click(
        bind(create_from_template), inputs=fields, outputs=saved, api_name="create_from_template"
    ).then(open_button_for, inputs=created_id, outputs=open_button, api_visibility="private")
    created = create_open_button.click(
        bind(create_from_template), inputs=fields, outputs=saved, api_visibility="private"
    )
    created = created.then(open_button_for, inputs=created_id, outputs=open_button, api_visibility="private")
    return TemplatesTab(
        templates=templates, template=template, created_id=created_id, open_button=open_button,
        try_button=try_button, created=created, notice=notice,
    )  # fmt: skip
