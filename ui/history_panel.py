"""My Assistants' History panel: the selected assistant's versions, a word diff of any two, Restore, labels,
and deleted assistants brought back. Handlers are plain functions of values; the layout and wiring follow.
"""

from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import gradio as gr
import pandas as pd

from studio.diff import VersionDiff, diff_fields
from studio.errors import StudioError, describe_error
from studio.store.history import SOURCE_WORDS, HistoryPage
from studio.text import counted
from ui.assistants_io import humanize_time
from ui.context import StudioContext, require_editable
from ui.theme import escape_md

COLUMNS = ["Version", "When", "Source", "Note", "Labels", "Wins"]
DELETED_COLUMNS = ["Name", "Deleted", "Versions", "ID"]
PICK_FIRST = "Select an assistant in the table to see its history."


class HistoryView(NamedTuple):
    table: pd.DataFrame
    summary: str
    page: int
    old: Any  # the "compare from" version; gr.skip() to keep
    new: Any  # the "compare to" version


def when(ms: int) -> str:
    return humanize_time(datetime.fromtimestamp(ms / 1000, UTC).isoformat())


def history_table(page: HistoryPage) -> pd.DataFrame:
    rows = [
        [f"v{v.number}", when(v.created_ms), SOURCE_WORDS.get(v.source, v.source), v.note, ", ".join(v.labels),
         str(v.wins) if v.wins else ""]
        for v in page.versions
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def describe_page(page: HistoryPage) -> str:
    if not page.total:
        return "No versions yet: the next save records the first."
    labels = " · ".join(f"{escape_md(label)}: v{number}" for label, number in sorted(page.labels.items()))
    count = counted(page.total, "version")
    where = f" · page {page.page} of {page.pages}" if page.pages > 1 else ""
    return f"**{count}**{where}" + (f" · {labels}" if labels else "")


def render_diff(diff: VersionDiff) -> str:
    """The diff as HTML: the instructions with deletions and insertions marked in place, and the other
    fields shown only when they changed. Every piece of text is escaped."""
    head = f"<p class='diff-head'>v{diff.old_number} → v{diff.new_number}</p>"
    if diff.identical:
        return head + "<p>These two versions are the same.</p>"
    rows = "".join(
        f"<tr><th>{html.escape(change.field.capitalize())}</th><td><del>{html.escape(change.old)}</del></td>"
        f"<td><ins>{html.escape(change.new)}</ins></td></tr>"
        for change in diff.changed
    )
    fields = f"<table class='diff-fields'>{rows}</table>" if rows else ""
    if not diff.instructions_changed:
        return head + fields + "<p>The instructions are the same.</p>"
    marks = {"equal": "{}", "insert": "<ins>{}</ins>", "delete": "<del>{}</del>"}
    body = "".join(marks[piece.op].format(html.escape(piece.text)) for piece in diff.instructions)
    return head + fields + f"<pre class='diff-text' aria-label='Instructions, changes marked'>{body}</pre>"


def _number(value: Any) -> int | None:
    try:
        text = str(value).strip().lstrip("vV")
        return int(float(text)) if text else None
    except (TypeError, ValueError):
        return None


# --- Handlers ------------------------------------------------------------------------------------------


async def load_history(ctx: StudioContext, assistant_id: str, page: float | None = 1) -> HistoryView:
    """A page of the assistant's versions, newest first; the diff picks the last two."""
    if not (assistant_id or "").strip():
        return HistoryView(pd.DataFrame([], columns=COLUMNS), PICK_FIRST, 1, None, None)
    try:
        found = await ctx.library.history(assistant_id, int(page or 1))
    except Exception as err:
        return HistoryView(pd.DataFrame([], columns=COLUMNS), escape_md(describe_error(err)), 1, None, None)
    newest = found.versions[0].number if found.versions and found.page == 1 else None
    return HistoryView(
        history_table(found), describe_page(found), found.page,
        max(newest - 1, 1) if newest else gr.skip(), newest if newest else gr.skip(),
    )  # fmt: skip


async def show_diff(ctx: StudioContext, assistant_id: str, old: Any, new: Any) -> str:
    """A word diff of two versions (by number), the instructions highlighted in place."""
    first, second = _number(old), _number(new)
    if not (assistant_id or "").strip():
        return f"<p>{PICK_FIRST}</p>"
    if first is None or second is None:
        return "<p>Give two version numbers to compare, e.g. 3 and 5.</p>"
    try:
        a = await ctx.library.version(assistant_id, first)
        b = await ctx.library.version(assistant_id, second)
    except Exception as err:
        return f"<p>{html.escape(describe_error(err))}</p>"
    return render_diff(diff_fields(a.number, a.fields, b.number, b.fields))


def _version_to_change(ctx: StudioContext, assistant_id: str, number: Any, verb: str) -> int:
    """The version number a change is about, once the studio may change things and an assistant is picked."""
    require_editable(ctx)
    if not (assistant_id or "").strip():
        raise StudioError(PICK_FIRST)
    chosen = _number(number)
    if chosen is None:
        raise StudioError(f"Give the number of the version to {verb}, e.g. 3.")
    return chosen


async def restore_version(ctx: StudioContext, assistant_id: str, number: Any, note: str = "") -> str:
    """Save an older version back to the API, as a new version."""
    try:
        chosen = _version_to_change(ctx, assistant_id, number, "restore")
        saved = await ctx.library.restore(assistant_id, chosen, (note or "").strip())
    except Exception as err:
        return f"Not restored: {escape_md(describe_error(err))}"
    if saved.version is None and not saved.problem:
        return f"“{escape_md(saved.assistant.name)}” holds version {chosen} already: nothing to restore."
    return escape_md(saved.notice(f"Restored version {chosen} of “{saved.assistant.name}”."))


async def set_label(ctx: StudioContext, assistant_id: str, label: str, number: Any) -> str:
    """Point a label (production, staging, any name) at a version; it moves from where it was."""
    try:
        chosen = _version_to_change(ctx, assistant_id, number, "label")
        await ctx.library.set_label(assistant_id, label or "", chosen)
    except Exception as err:
        return f"Not labelled: {escape_md(describe_error(err))}"
    return f"“{escape_md(label.strip())}” now points at version {chosen}."


async def remove_label(ctx: StudioContext, assistant_id: str, label: str) -> str:
    try:
        require_editable(ctx)
        if not (assistant_id or "").strip():
            return PICK_FIRST
        removed = await ctx.library.remove_label(assistant_id, label or "")
    except Exception as err:
        return f"Not removed: {escape_md(describe_error(err))}"
    name = escape_md((label or "").strip())
    return f"Removed the label “{name}”." if removed else f"No version is labelled “{name}”."


async def list_deleted(ctx: StudioContext) -> tuple[pd.DataFrame, str]:
    """Assistants deleted (here or elsewhere) whose history the studio keeps."""
    try:
        gone = await ctx.library.deleted()
    except Exception as err:
        return pd.DataFrame([], columns=DELETED_COLUMNS), escape_md(describe_error(err))
    rows = [[d.name, when(d.deleted_ms), str(d.last_number), d.assistant_id] for d in gone]
    notice = "" if rows else "No deleted assistants: their history would be kept here."
    return pd.DataFrame(rows, columns=DELETED_COLUMNS), notice


async def bring_back(ctx: StudioContext, deleted_id: str) -> tuple[str, str]:
    """Create a deleted assistant again from its last version (a new id; the history goes on)."""
    try:
        require_editable(ctx)
        if not (deleted_id or "").strip():
            return "Click a deleted assistant in the list first.", ""
        saved = await ctx.library.bring_back(deleted_id.strip())
    except Exception as err:
        return f"Not brought back: {escape_md(describe_error(err))}", ""
    done = f"Brought back “{saved.assistant.name}” as {saved.assistant.id}."
    return escape_md(saved.notice(done)), saved.assistant.id


# --- Layout and wiring -------------------------------------------------------------------------------


@dataclass
class HistoryPanel:
    restored: Any  # the Restore event, for the tab to reload the form after it
    brought_back: Any  # the Bring back event, likewise (the form then holds the new assistant)


def build_history_panel(
    ctx: StudioContext, assistant_id: gr.Textbox, refreshed_by: list[Any]
) -> HistoryPanel:
    """The History fold under the form; `refreshed_by`: events after which it reloads."""
    editable = not ctx.demo
    with gr.Accordion("History", open=True, elem_id="history-panel"):
        summary = gr.Markdown(PICK_FIRST, elem_id="history-summary", label="History summary")
        table = gr.Dataframe(
            pd.DataFrame([], columns=COLUMNS), label="Versions", interactive=False, datatype="str", wrap=True,
            max_height=320, elem_id="history-table", column_widths=["9%", "14%", "22%", "31%", "16%", "8%"],
        )  # fmt: skip
        with gr.Row():
            previous = gr.Button("← Newer", size="sm", scale=0, min_width=100)
            page = gr.Number(value=1, label="Page", precision=0, minimum=1, scale=0, min_width=90,
                             elem_id="history-page")  # fmt: skip
            following = gr.Button("Older →", size="sm", scale=0, min_width=100)
        with gr.Row(equal_height=True):
            old = gr.Number(
                label="Compare version", precision=0, minimum=1, value=None, elem_id="history-old"
            )
            new = gr.Number(label="with version", precision=0, minimum=1, value=None, elem_id="history-new")
            diff_button = gr.Button("Show the diff", elem_id="history-diff-button", scale=0, min_width=140)
        diff = gr.HTML("", elem_id="history-diff", label="Diff")
        with gr.Row(equal_height=True, visible=editable):
            chosen = gr.Number(label="Version", precision=0, minimum=1, value=None, elem_id="history-version")
            note = gr.Textbox(label="Note for the restore (optional)", elem_id="history-note", scale=2)
            restore = gr.Button("Restore this version", variant="primary", elem_id="history-restore", scale=0,
                                min_width=170)  # fmt: skip
        with gr.Row(equal_height=True, visible=editable):
            label = gr.Textbox(label="Label", placeholder="production", elem_id="history-label", scale=2)
            set_button = gr.Button("Label this version", elem_id="history-set-label", scale=0, min_width=150)
            unset_button = gr.Button("Remove label", elem_id="history-remove-label", scale=0, min_width=130)
        notice = gr.Markdown("", elem_id="history-notice", elem_classes="notice", label="History notice")
        with gr.Accordion("Deleted assistants", open=False, visible=editable):
            deleted = gr.Dataframe(pd.DataFrame([], columns=DELETED_COLUMNS), label="Deleted assistants",
                                   interactive=False, datatype="str", wrap=True, elem_id="deleted-table")  # fmt: skip
            deleted_notice = gr.Markdown("", label="Deleted notice")
            deleted_refresh = gr.Button("Refresh the list", size="sm")
            with gr.Row(equal_height=True):
                deleted_id = gr.Textbox(label="Deleted assistant ID", elem_id="deleted-id", scale=3)
                bring = gr.Button(
                    "Bring it back", variant="primary", elem_id="bring-back", scale=0, min_width=140
                )

    async def reload(assistant: str, number: float | None) -> HistoryView:
        return await load_history(ctx, assistant, number)

    def on_row(evt: gr.SelectData) -> tuple[Any, Any, Any]:
        row = evt.row_value or []
        number = _number(row[0]) if row else None
        if number is None:
            return gr.skip(), gr.skip(), gr.skip()
        return max(number - 1, 1), number, number

    def on_deleted_row(evt: gr.SelectData) -> str:
        row = evt.row_value or []
        return str(row[-1]) if row else ""

    listing = [table, summary, page, old, new]
    load = {"fn": reload, "inputs": [assistant_id, page], "outputs": listing, "show_progress": "hidden"}
    gr.on([assistant_id.change, page.submit], **load, api_name="history")
    for event in refreshed_by:
        event.then(**load, api_visibility="private")
    previous.click(lambda p: max(int(p or 1) - 1, 1), page, page, api_visibility="private").then(
        **load, api_visibility="private"
    )
    following.click(lambda p: int(p or 1) + 1, page, page, api_visibility="private").then(
        **load, api_visibility="private"
    )
    table.select(on_row, None, [old, new, chosen], api_visibility="private").then(
        functools.partial(show_diff, ctx), [assistant_id, old, new], diff, api_visibility="private"
    )
    diff_button.click(
        functools.partial(show_diff, ctx), [assistant_id, old, new], diff, api_name="history_diff"
    )
    restore_done = restore.click(functools.partial(restore_version, ctx), [assistant_id, chosen, note], notice,
                                 api_name="history_restore")  # fmt: skip
    label_set = set_button.click(functools.partial(set_label, ctx), [assistant_id, label, chosen],
                                 notice, api_name="history_set_label")  # fmt: skip
    label_unset = unset_button.click(functools.partial(remove_label, ctx), [assistant_id, label], notice,
                                     api_name="history_remove_label")  # fmt: skip
    for event in (restore_done, label_set, label_unset):
        event.then(**load, api_visibility="private")
    deleted.select(on_deleted_row, None, deleted_id, api_visibility="private")
    listed = {"fn": functools.partial(list_deleted, ctx), "outputs": [deleted, deleted_notice]}
    for event in refreshed_by:
        event.then(**listed, api_visibility="private")
    brought = bring.click(functools.partial(bring_back, ctx), deleted_id, [deleted_notice, assistant_id],
                          api_name="bring_back")  # fmt: skip
    # The list again, keeping what Bring back said (the list's own notice would replace it).
    brought.then(listed["fn"], None, [deleted, gr.State()], api_visibility="private")
    deleted_refresh.click(**listed, api_name="deleted_assistants")
    return HistoryPanel(restored=restore_done, brought_back=brought)
