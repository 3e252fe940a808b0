"""My Assistants: the list, the form to create, edit and delete, and export and import as JSON."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd

from backend.errors import AssistantsError, ValidationError
from studio.errors import StudioError, describe_error
from studio.store.history import Source
from ui import assistants_io as aio
from ui.assistants_io import COLUMNS, ListResult, assistants_table
from ui.context import StudioContext, require_editable
from ui.history_panel import build_history_panel
from ui.theme import escape_md

Progress = Callable[..., Any]


class SaveResult(NamedTuple):
    """What a create or an update shows: a notice, a problem beside each field, the assistant's id."""

    notice: str
    name_error: str
    model_error: str
    instructions_error: str
    description_error: str
    assistant_id: Any  # the id, or gr.skip() to leave the form's id as it was


class FormValues(NamedTuple):
    assistant_id: str
    name: str
    model: Any
    instructions: str
    description: str
    notice: str


class ImportResult(NamedTuple):
    report: pd.DataFrame
    notice: str


def field_message(key: str, problem: str | None) -> str:
    """The markdown under one field: the problem, named after the field if the text does not say which."""
    if not problem:
        return ""
    label = aio.LABELS[key]
    text = problem if problem.lower().startswith(label.lower()) else f"{label}: {problem}"
    return f"⚠ {escape_md(text)}"


def field_messages(problems: dict[str, str]) -> tuple[str, str, str, str]:
    """The markdown shown under each of the four fields; empty where the field is fine."""
    name, model, instructions, description = (field_message(key, problems.get(key)) for key in aio.FIELDS)
    return name, model, instructions, description


def _failed(err: BaseException, keep_id: Any) -> SaveResult:
    """A failed save: the server's per-field problems beside the fields, the rest as the notice."""
    problems = aio.to_field_errors(err.field_errors) if isinstance(err, ValidationError) else {}
    if problems and set(problems) <= set(aio.FIELDS):
        return _refused(problems, keep_id)
    return SaveResult(f"Not saved: {escape_md(describe_error(err))}", *field_messages(problems), keep_id)


def _refused(problems: dict[str, str], keep_id: Any) -> SaveResult:
    notice = "Not saved: correct the marked fields and try again. Nothing you typed was lost."
    return SaveResult(notice, *field_messages(problems), keep_id)


def note_after(notice: str) -> Any:
    """The version note once a save is done: emptied after a save, kept after one that failed."""
    return gr.skip() if notice.startswith("Not saved") else ""


async def list_assistants(ctx: StudioContext, query: str = "") -> ListResult:
    """All my assistants, filtered by the search words (changes made elsewhere are recorded as versions)."""
    try:
        return assistants_table(await ctx.library.list_all(), query or "")
    except AssistantsError as err:
        return ListResult(
            pd.DataFrame([], columns=COLUMNS),
            f"Could not load your assistants: {escape_md(describe_error(err))}",
        )


async def load_models(ctx: StudioContext) -> gr.Dropdown:
    """The model dropdown's choices, each labelled with its price; the cheapest is picked to start with."""
    try:
        models = await ctx.client.models.list()
        cheapest = min(models, key=lambda m: m.token_cost).slug if models else None
        return gr.Dropdown(choices=aio.model_choices(models), value=cheapest)
    except AssistantsError as err:
        return gr.Dropdown(info=f"Could not load the models: {describe_error(err)}")


async def create_assistant(
    ctx: StudioContext,
    name: str,
    model: str | None,
    instructions: str,
    description: str,
    note: str = "",
    *,
    source: Source = "create",
) -> SaveResult:
    """Create an assistant from the form, recording its first version (with an optional note); problems are
    shown beside the field."""
    try:
        require_editable(ctx)
        problems = aio.check_fields(name, model, instructions or "", description or "", None)
        if problems:
            return _refused(problems, gr.skip())
        saved = await ctx.library.create(
            source=source,
            note=(note or "").strip(),
            name=name.strip(),
            model=model or "",
            instructions=instructions or "",
            description=description or "",
        )
    except Exception as err:  # every failure becomes a message; the form keeps what was typed
        return _failed(err, gr.skip())
    notice = saved.notice(f"Created “{saved.assistant.name}”.")
    return SaveResult(escape_md(notice), "", "", "", "", saved.assistant.id)


async def update_assistant(
    ctx: StudioContext,
    assistant_id: str,
    name: str,
    model: str | None,
    instructions: str,
    description: str,
    note: str = "",
) -> SaveResult:
    """Save the form over the selected assistant, as a new version (with an optional note)."""
    try:
        require_editable(ctx)
        if not (assistant_id or "").strip():
            return SaveResult(
                "Nothing to save: select an assistant in the table first, or press Create.",
                "",
                "",
                "",
                "",
                "",
            )
        problems = aio.check_fields(name, model, instructions or "", description or "", None)
        if problems:
            return _refused(problems, assistant_id)
        saved = await ctx.library.update(
            assistant_id,
            source="save",
            note=(note or "").strip(),
            name=name.strip(),
            model=model or "",
            instructions=instructions or "",
            description=description or "",
        )
    except Exception as err:  # every failure becomes a message; the form keeps what was typed
        return _failed(err, assistant_id)
    if saved.version is None and not saved.problem:
        notice = f"Saved “{saved.assistant.name}”: nothing had changed, so no version was recorded."
    else:
        notice = saved.notice(f"Saved “{saved.assistant.name}”.")
    return SaveResult(escape_md(notice), "", "", "", "", saved.assistant.id)


async def delete_assistant(ctx: StudioContext, assistant_id: str) -> FormValues:
    """Delete the selected assistant (the UI asks for confirmation first) and clear the form."""
    keep = gr.skip()
    try:
        require_editable(ctx)
        if not (assistant_id or "").strip():
            return FormValues(
                keep, keep, keep, keep, keep, "Nothing to delete: select an assistant in the table first."
            )
        gone = await ctx.library.delete(assistant_id)
    except Exception as err:  # every failure becomes a message; nothing is cleared
        return FormValues(keep, keep, keep, keep, keep, f"Not deleted: {escape_md(describe_error(err))}")
    return FormValues(
        "",
        "",
        keep,
        "",
        "",
        f"Deleted “{escape_md(gone.name)}”. Its history is kept: see Deleted assistants.",
    )


async def get_assistant(ctx: StudioContext, assistant_id: str) -> FormValues:
    """One assistant's fields, to fill the form."""
    keep = gr.skip()
    try:
        found = await ctx.library.get(assistant_id)
    except AssistantsError as err:
        return FormValues(
            keep, keep, keep, keep, keep, f"Could not open it: {escape_md(describe_error(err))}"
        )
    return FormValues(found.id, found.name, found.model, found.instructions, found.description, "")


def new_form() -> tuple[Any, ...]:
    """An empty form for a new assistant (the model choice is kept), without the last attempt's problems."""
    return (*FormValues("", "", gr.skip(), "", "", ""), "", "", "", "")


def ask_delete(assistant_id: str, name: str) -> tuple[gr.Row, str, str]:
    """The confirmation step, naming the assistant; with nothing selected, the notice says what to do."""
    if not (assistant_id or "").strip():
        return gr.Row(visible=False), "", "Nothing to delete: select an assistant in the table first."
    question = (
        f"Delete “{escape_md(name)}”? It leaves the server; the studio keeps its history to bring it back."
    )
    return gr.Row(visible=True), question, ""


async def export_assistants(ctx: StudioContext, scope: str, assistant_id: str) -> tuple[str | None, str]:
    """Write my assistants (all, or the selected one) to a JSON file to download."""
    try:
        if scope == "selected":
            if not (assistant_id or "").strip():
                return None, "Select an assistant in the table first, or export all."
            chosen = [await ctx.client.assistants.get(assistant_id)]
        else:
            chosen = await ctx.client.assistants.list_all()
    except AssistantsError as err:
        return None, f"Not exported: {escape_md(describe_error(err))}"
    if not chosen:
        return None, "Nothing to export yet: create an assistant first."
    stem = "assistant" if scope == "selected" else "assistants"
    path = aio.write_export(chosen, stem)
    return str(
        path
    ), f"Exported {len(chosen)} assistant{'s' if len(chosen) != 1 else ''}: download the file below."


async def import_assistants(
    ctx: StudioContext, file: str | None, progress: Progress | None = None
) -> ImportResult:
    """Create the valid, new assistants of an export file; the report says what was refused and why."""
    empty = pd.DataFrame([], columns=["#", "name", "result", "detail"])
    report = aio.ImportReport()
    try:
        require_editable(ctx)
        if not file:
            return ImportResult(empty, "Choose a .json file to import first.")
        items = aio.read_import_items(file)
        known = {model.slug for model in await ctx.client.models.list()}
        have = {aio.identity(a.model_dump()) for a in await ctx.client.assistants.list_all()}
    except (aio.ImportFileError, AssistantsError, StudioError) as err:
        message = str(err) if isinstance(err, aio.ImportFileError) else describe_error(err)
        return ImportResult(empty, f"Nothing imported: {escape_md(message)}")
    for number, item in enumerate(items, start=1):
        if progress is not None:
            progress((number - 1, len(items)), desc=f"Importing {number} of {len(items)}")
        fields, reason = aio.check_import_item(item, known)
        label = fields.get("name") or f"(item {number})"
        if reason:
            report.add(number, label, "refused", reason)
            continue
        if aio.identity(fields) in have:
            report.add(number, label, "skipped", "An identical assistant already exists.")
            continue
        try:
            saved = await ctx.library.create(source="import", **fields)
        except AssistantsError as err:
            report.add(number, label, "refused", describe_error(err))
            continue
        have.add(aio.identity(fields))
        report.add(number, label, "created", saved.assistant.id)
    return ImportResult(pd.DataFrame(report.rows, columns=list(empty.columns)), escape_md(report.summary()))


def selected_id(evt: gr.SelectData) -> str:
    """The id of the clicked row: read from the row itself, so sorting the table cannot mislead it."""
    row = evt.row_value or []
    return str(row[-1]) if row else ""


@dataclass
class AssistantsTab:
    """What the factory needs from this tab to wire it to the others."""

    assistant_id: gr.Textbox
    open_button: gr.Button
    notice: gr.Markdown


def build_assistants_tab(ctx: StudioContext, blocks: gr.Blocks, tab: gr.Tab) -> AssistantsTab:
    """Lay out My Assistants, then wire it; the list refreshes whenever the tab is shown."""
    editable = not ctx.demo
    with gr.Row():
        search = gr.Textbox(
            label="Search my assistants", placeholder="Words in a name, description or model", scale=4
        )
        refresh = gr.Button("Refresh list", scale=0, min_width=140)
    # Fixed shares, so a long description wraps instead of pushing Last update and ID off screen.
    table = gr.Dataframe(
        pd.DataFrame([], columns=COLUMNS), label="My assistants", interactive=False, datatype="str",
        elem_id="assistants-table", wrap=True, max_height=420, column_widths=["20%", "14%", "36%", "12%", "18%"],
    )  # fmt: skip
    list_notice = gr.Markdown(elem_id="assistants-list-notice", elem_classes="notice", label="List notice")
    with gr.Row(equal_height=False):
        form_column = gr.Column(variant="panel", scale=5, min_width=320)
        history_column = gr.Column(scale=5, min_width=320)
    with form_column:
        assistant_id = gr.Textbox(
            label="Assistant ID",
            interactive=False,
            elem_id="assistant-id",
            placeholder="A new assistant, not saved yet",
        )
        name = gr.Textbox(label="Name", elem_id="assistant-name", interactive=editable)
        name_error = gr.Markdown(
            elem_classes="field-error", elem_id="assistant-name-error", label="Name problem"
        )
        model = gr.Dropdown(
            label="Model", elem_id="assistant-model", allow_custom_value=True, interactive=editable
        )
        model_error = gr.Markdown(
            elem_classes="field-error", elem_id="assistant-model-error", label="Model problem"
        )
        instructions = gr.Textbox(
            label="Instructions", lines=8, elem_id="assistant-instructions", interactive=editable
        )
        instructions_error = gr.Markdown(
            elem_classes="field-error", elem_id="assistant-instructions-error", label="Instructions problem"
        )
        description = gr.Textbox(
            label="Description", lines=2, elem_id="assistant-description", interactive=editable
        )
        description_error = gr.Markdown(
            elem_classes="field-error", elem_id="assistant-description-error", label="Description problem"
        )
        version_note = gr.Textbox(
            value="", label="Note for this version (optional)", placeholder="What this change is for",
            elem_id="assistant-version-note", visible=editable,
        )  # fmt: skip
    with form_column, gr.Row():
        new_button = gr.Button("New assistant", visible=editable)
        create_button = gr.Button(
            "Create assistant", variant="primary", visible=editable, elem_id="create-assistant"
        )
        save_button = gr.Button("Save changes", visible=editable, elem_id="save-assistant")
        delete_button = gr.Button("Delete…", variant="stop", visible=editable, elem_id="delete-assistant")
        open_button = gr.Button("Open in Playground", elem_id="assistants-open-playground")
    with form_column, gr.Row(visible=False) as confirm_row:
        confirm_text = gr.Markdown(label="Confirm delete question")
        confirm_button = gr.Button("Confirm delete", variant="stop", elem_id="confirm-delete")
        cancel_button = gr.Button("Cancel")
    with form_column:
        notice = gr.Markdown(elem_id="assistants-notice", elem_classes="notice", label="Notice")
    with gr.Accordion("Export and import", open=False):
        with gr.Row():
            scope = gr.Radio(
                [("All my assistants", "all"), ("The selected assistant", "selected")],
                value="all",
                label="Export",
            )
            export_button = gr.Button("Export JSON", elem_id="export-assistants")
        export_file = gr.File(label="Exported file", interactive=False)
        import_file = gr.File(
            label="File to import (.json)", file_types=[".json"], type="filepath", visible=editable
        )
        import_button = gr.Button("Import assistants", visible=editable, elem_id="import-assistants")
        import_notice = gr.Markdown(elem_classes="notice", label="Import summary")
        import_report = gr.Dataframe(
            label="Import report", interactive=False, datatype="str", visible=editable, wrap=True,
            column_widths=["7%", "25%", "12%", "56%"],
        )  # fmt: skip

    # --- Wiring -------------------------------------------------------------------------------------------
    def bind(fn: Callable[..., Any]) -> Callable[..., Any]:
        return functools.partial(fn, ctx)

    async def run_import(file: str | None, progress: gr.Progress = gr.Progress()) -> ImportResult:  # noqa: B008
        return await import_assistants(ctx, file, progress)

    form = [assistant_id, name, model, instructions, description]
    fields = [name, model, instructions, description]
    saved = [notice, name_error, model_error, instructions_error, description_error, assistant_id]
    relist: dict[str, Any] = {
        "fn": bind(list_assistants),
        "inputs": search,
        "outputs": [table, list_notice],
        "show_progress": "minimal",
    }
    hide_confirm: dict[str, Any] = {
        "fn": lambda: gr.Row(visible=False),
        "outputs": confirm_row,
        "api_visibility": "private",
    }
    gr.on([blocks.load, tab.select, refresh.click, search.submit], **relist, api_name="list_assistants")
    blocks.load(bind(load_models), outputs=model, api_visibility="private")
    # Picking another row withdraws a pending delete question: it named the previous assistant.
    table.select(selected_id, outputs=assistant_id, api_visibility="private").then(**hide_confirm).then(
        bind(get_assistant), inputs=assistant_id, outputs=[*form, notice], api_name="get_assistant"
    )
    errors = [name_error, model_error, instructions_error, description_error]
    new_button.click(new_form, outputs=[*form, notice, *errors], api_visibility="private")
    created = create_button.click(
        bind(create_assistant), inputs=[*fields, version_note], outputs=saved, api_name="create_assistant"
    )
    created.then(note_after, notice, version_note, api_visibility="private").then(
        **relist, api_visibility="private"
    )
    updated = save_button.click(
        bind(update_assistant), inputs=[assistant_id, *fields, version_note], outputs=saved,
        api_name="update_assistant",
    )  # fmt: skip
    updated.then(note_after, notice, version_note, api_visibility="private").then(
        **relist, api_visibility="private"
    )
    delete_button.click(
        ask_delete,
        inputs=[assistant_id, name],
        outputs=[confirm_row, confirm_text, notice],
        api_visibility="private",
    )
    cancel_button.click(**hide_confirm)
    deleted = confirm_button.click(
        bind(delete_assistant), inputs=assistant_id, outputs=[*form, notice], api_name="delete_assistant"
    )
    deleted.then(**hide_confirm).then(**relist, api_visibility="private")
    export_button.click(
        bind(export_assistants),
        inputs=[scope, assistant_id],
        outputs=[export_file, notice],
        api_name="export_assistants",
    )
    import_button.click(
        run_import, inputs=import_file, outputs=[import_report, import_notice], api_name="import_assistants"
    ).then(**relist, api_visibility="private")
    with history_column:
        history = build_history_panel(ctx, assistant_id, [created, updated, deleted])
    history.restored.then(bind(get_assistant), inputs=assistant_id, outputs=[*form, gr.State()],
                          api_visibility="private").then(**relist, api_visibility="private")  # fmt: skip
    history.brought_back.then(bind(get_assistant), inputs=assistant_id, outputs=[*form, notice],
                              api_visibility="private").then(**relist, api_visibility="private")  # fmt: skip
    return AssistantsTab(assistant_id=assistant_id, open_button=open_button, notice=notice)
