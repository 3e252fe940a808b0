"""The Playground's layout: a side column of settings beside the conversation (or Compare's columns).

At 1400×900 the whole loop fits on one screen: pick an assistant or a version, edit the instructions and
variables, set parameters, type, read the answer. On a phone the side column stacks above the chat.
Only components here; what they do is wired in ui.playground.chat_events and compare_events.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from backend.schemas import DEFAULT_TEMPERATURE, INSTRUCTIONS_MAX, MESSAGE_MAX
from studio.choices import BLANK_LABEL, OWN_MODEL_LABEL
from studio.compare import MAX_COLUMNS
from studio.picker import BLANK
from ui.playground.session import MAX_VARIABLES

# The chat takes what the window leaves: the header, the tabs and the input row need about 390 px.
CHAT_HEIGHT = "max(300px, calc(100vh - 465px))"
COLUMN_CHAT_HEIGHT = "max(240px, calc(100vh - 600px))"
CURRENT_VERSION = "current"
CHAT, COMPARE = "Chat", "Compare"  # the Playground's modes


@dataclass
class Settings:
    """The side column: what is chatted with, and how."""

    picker: gr.Dropdown
    refresh: gr.Button
    version: gr.Dropdown
    summary: gr.Markdown
    instructions: gr.Textbox
    save_note: gr.Textbox
    save_row: gr.Row
    save: gr.Button
    reset: gr.Button
    saved_note: gr.Markdown
    variables: list[gr.Textbox]
    variables_notice: gr.Markdown
    variables_json: gr.JSON
    model: gr.Dropdown
    temperature: gr.Slider
    max_tokens: gr.Number
    recent: gr.Dropdown
    reopen: gr.Button
    reopen_anyway: gr.Button
    forget: gr.Button
    recent_notice: gr.Markdown


@dataclass
class ChatPanel:
    group: gr.Column
    chatbot: gr.Chatbot
    error: gr.Markdown
    retry: gr.Button
    message: gr.Textbox
    send: gr.Button
    stop: gr.Button
    cost: gr.Markdown
    regenerate: gr.Button
    undo: gr.Button
    clear: gr.Button


@dataclass
class ChatTools:
    """What is done to the chat now and then, kept in the side column: edit a sent message, export."""

    edit_number: gr.Number
    edit_text: gr.Textbox
    edit: gr.Button
    export_markdown: gr.Button
    export_json: gr.Button
    download: gr.File
    case_suite: gr.Textbox
    case_description: gr.Textbox
    save_case: gr.Button
    case_notice: gr.Markdown


@dataclass
class CompareColumnPanel:
    group: gr.Column
    summary: gr.Markdown
    assistant: gr.Dropdown
    version: gr.Dropdown
    model: gr.Dropdown
    temperature: gr.Slider
    max_tokens: gr.Number
    instructions: gr.Textbox
    apply: gr.Button
    chatbot: gr.Chatbot
    notice: gr.Markdown
    regenerate: gr.Button
    prefer: gr.Button
    continue_: gr.Button
    remove: gr.Button


@dataclass
class ComparePanel:
    group: gr.Column
    columns: list[CompareColumnPanel]
    add: gr.Button
    message: gr.Textbox
    send: gr.Button
    stop: gr.Button
    clear: gr.Button
    cost: gr.Markdown
    error: gr.Markdown
    notice: gr.Markdown


def error_box(error: str) -> gr.Markdown:
    """The visible box that names what went wrong and what to do; hidden when there is nothing."""
    from ui.theme import escape_md

    return gr.Markdown(f"**Problem:** {escape_md(error)}" if error else "", visible=bool(error))


def build_settings() -> Settings:
    with gr.Row(elem_classes="wb-picker-row"):
        picker = gr.Dropdown(
            choices=[(BLANK_LABEL, str(BLANK))], value=str(BLANK), label="Assistant",
            info="Yours, a marketplace one (type a name to search), or a blank one",
            allow_custom_value=True,  # a name or id typed, or sent through the API, checked by the handler
            elem_id="playground-picker", scale=5,
        )  # fmt: skip
        refresh = gr.Button("↻", size="sm", scale=0, min_width=44, elem_id="playground-refresh")
    version = gr.Dropdown(
        choices=[("As saved now", CURRENT_VERSION)], value=CURRENT_VERSION, label="Version",
        info="Chat with an older version without restoring it", allow_custom_value=True,
        interactive=False, elem_id="playground-version",
    )  # fmt: skip
    summary = gr.Markdown("", label="About this assistant", elem_id="playground-about")
    instructions = gr.Textbox(
        value="", label="Instructions", lines=4, max_lines=10, max_length=INSTRUCTIONS_MAX,
        info="Edit to try a change (sent as system text until saved). {{name}} makes a variable.",
        elem_id="playground-instructions",
    )  # fmt: skip
    with gr.Group(elem_id="playground-variables"):
        boxes = [
            gr.Textbox(
                label=f"variable {i + 1}", visible=False, lines=1, max_lines=4, elem_classes="wb-variable"
            )
            for i in range(MAX_VARIABLES)
        ]
    variables_notice = gr.Markdown("", elem_id="playground-variables-notice", label="Variables")
    with gr.Row(elem_classes="wb-save-row", equal_height=True):
        reset = gr.Button("Reset", size="sm", scale=0, min_width=70, elem_id="playground-reset")
        with gr.Row(visible=False, equal_height=True, scale=4) as save_row:
            save_note = gr.Textbox(
                value="", placeholder="Note for this version (optional)", show_label=False, label="Version note",
                container=False, scale=3, elem_id="playground-save-note",
            )  # fmt: skip
            save = gr.Button(
                "Save", size="sm", variant="primary", scale=1, min_width=70, elem_id="playground-save"
            )
    saved_note = gr.Markdown("", label="Saved or not", elem_id="playground-instructions-note")
    variables_json = gr.JSON(value={}, visible=False, label="Variables")
    with gr.Accordion("Parameters", open=False, elem_id="playground-parameters"):
        model = gr.Dropdown(
            choices=[(OWN_MODEL_LABEL, "")], value="", label="Model",
            info="Overrides the assistant's model; each is priced per request", elem_id="playground-model",
        )  # fmt: skip
        temperature = gr.Slider(
            0, 2, value=DEFAULT_TEMPERATURE, step=0.05, label="Temperature", elem_id="playground-temperature"
        )
        # minimum=0, not 1: Gradio shows an empty Number as 0 once its fold opens, and a value below the
        # minimum makes every chat event fail before it reaches the handler. 0 means the default.
        max_tokens = gr.Number(
            value=None, label="Max tokens", info="Empty or 0: the model's default", precision=0, minimum=0,
            elem_id="playground-max-tokens",
        )  # fmt: skip
    with gr.Accordion("Recent conversations", open=False, elem_id="playground-recent"):
        recent = gr.Dropdown(
            choices=[], value=None, label="Kept in this browser", elem_id="playground-recent-list"
        )
        with gr.Row():
            reopen = gr.Button("Open", size="sm", elem_id="playground-reopen")
            reopen_anyway = gr.Button("Continue it here", size="sm", visible=False, variant="primary")
            forget = gr.Button("Remove from the list", size="sm", variant="stop", elem_id="playground-forget")
        recent_notice = gr.Markdown("", label="Recent conversations notice")
    return Settings(
        picker, refresh, version, summary, instructions, save_note, save_row, save, reset, saved_note, boxes,
        variables_notice, variables_json, model, temperature, max_tokens, recent, reopen, reopen_anyway,
        forget, recent_notice,
    )  # fmt: skip


def build_chat() -> ChatPanel:
    with gr.Column(elem_id="playground-chat-panel") as group:
        chatbot = gr.Chatbot(
            label="Conversation", elem_id="playground-chat", height=CHAT_HEIGHT, editable="user",
            placeholder="Say hello, or pick an assistant first.", buttons=["copy", "copy_all"],
            feedback_options=None, allow_tags=False,
        )  # fmt: skip
        with gr.Row(equal_height=True):
            error = gr.Markdown(
                "",
                visible=False,
                label="Problem",
                elem_id="playground-error",
                elem_classes="field-error",
                scale=5,
            )
            retry = gr.Button(
                "Retry", visible=False, variant="primary", size="sm", elem_id="playground-retry", scale=1,
                min_width=90,
            )  # fmt: skip
        with gr.Row(equal_height=True):
            message = gr.Textbox(
                value="", label="Message", placeholder="Type a message. Enter sends, Shift+Enter adds a line.",
                lines=1, max_lines=8, max_length=MESSAGE_MAX, elem_id="playground-input", scale=6,
            )  # fmt: skip
            send = gr.Button("Send", variant="primary", elem_id="playground-send", scale=1, min_width=80)
            stop = gr.Button("Stop", variant="stop", elem_id="playground-stop", scale=1, min_width=80)
        with gr.Row(equal_height=True, elem_classes="wb-actions"):
            cost = gr.Markdown("", label="Cost and balance", elem_id="playground-cost", scale=3)
            regenerate = gr.Button(
                "Regenerate last answer", size="sm", scale=0, min_width=170, elem_id="playground-regenerate"
            )
            undo = gr.Button("Undo last turn", size="sm", scale=0, min_width=130, elem_id="playground-undo")
            clear = gr.Button("Clear chat", size="sm", scale=0, min_width=100, elem_id="playground-clear")
    return ChatPanel(group, chatbot, error, retry, message, send, stop, cost, regenerate, undo, clear)


def build_chat_tools(editable: bool = True) -> ChatTools:
    with gr.Accordion("Edit a sent message", open=False):
        edit_number = gr.Number(
            label="Message number", info="1 is the first message you sent", precision=0, minimum=0, value=None
        )
        edit_text = gr.Textbox(value="", label="New text", lines=2, max_lines=8, max_length=MESSAGE_MAX)
        edit = gr.Button("Edit and ask again", size="sm")
    with gr.Accordion("Export", open=False):
        with gr.Row():
            export_markdown = gr.Button("Export as Markdown", size="sm")
            export_json = gr.Button("Export as JSON", size="sm")
        download = gr.File(label="Conversation file", interactive=False, elem_id="playground-download")
    with gr.Accordion("Save as a test case", open=False, visible=editable, elem_id="playground-save-case"):
        case_suite = gr.Textbox(
            value="Conversations", label="Test suite", info="Of this assistant; made if it does not exist",
            elem_id="playground-case-suite",
        )  # fmt: skip
        case_description = gr.Textbox(
            value="", label="Description (optional)", elem_id="playground-case-description"
        )
        save_case = gr.Button(
            "Save the conversation as a test case", size="sm", elem_id="playground-save-case-button"
        )
        case_notice = gr.Markdown("", label="Test case notice", elem_classes="notice")
    return ChatTools(
        edit_number, edit_text, edit, export_markdown, export_json, download, case_suite, case_description,
        save_case, case_notice,
    )  # fmt: skip


def _build_column(index: int, editable: bool) -> CompareColumnPanel:
    number = index + 1
    with gr.Column(
        visible=index < 2, min_width=210, elem_classes="wb-column", elem_id=f"compare-column-{number}"
    ) as group:
        summary = gr.Markdown(
            f"**Column {number}**", elem_classes="wb-column-summary", label=f"Column {number}"
        )
        with gr.Accordion(f"Column {number} settings", open=False):
            assistant = gr.Dropdown(
                choices=[("The chat's assistant", "")], value="", label="Assistant", allow_custom_value=True,
                elem_id=f"compare-assistant-{number}",
            )  # fmt: skip
            version = gr.Dropdown(
                choices=[("As saved now", CURRENT_VERSION)], value=CURRENT_VERSION, label="Version",
                allow_custom_value=True, elem_id=f"compare-version-{number}",
            )  # fmt: skip
            model = gr.Dropdown(
                choices=[(OWN_MODEL_LABEL, "")], value="", label="Model", elem_id=f"compare-model-{number}"
            )
            temperature = gr.Slider(0, 2, value=DEFAULT_TEMPERATURE, step=0.05, label="Temperature",
                                    elem_id=f"compare-temperature-{number}")  # fmt: skip
            max_tokens = gr.Number(value=None, label="Max tokens", precision=0, minimum=0,
                                   elem_id=f"compare-max-tokens-{number}")  # fmt: skip
            instructions = gr.Textbox(
                value="", label="Instructions (an edited copy)", lines=3, max_lines=8, max_length=INSTRUCTIONS_MAX,
                placeholder="Empty: the assistant's (or version's) own", elem_id=f"compare-instructions-{number}",
            )  # fmt: skip
            apply = gr.Button(
                f"Use these settings in column {number}", size="sm", elem_id=f"compare-apply-{number}"
            )
        chatbot = gr.Chatbot(
            label=f"Column {number}", show_label=False, height=COLUMN_CHAT_HEIGHT, feedback_options=None, buttons=["copy"],
            allow_tags=False, elem_id=f"compare-chat-{number}",
        )  # fmt: skip
        notice = gr.Markdown("", elem_classes="field-error", label=f"Column {number} problem")
        with gr.Row():
            regenerate = gr.Button(
                "Regenerate", size="sm", min_width=60, elem_id=f"compare-regenerate-{number}"
            )
            prefer = gr.Button(
                "Prefer this answer",
                visible=editable,
                size="sm",
                min_width=60,
                elem_id=f"compare-prefer-{number}",
            )
        with gr.Row():
            continue_ = gr.Button(
                "Continue with this one", size="sm", min_width=60, elem_id=f"compare-continue-{number}"
            )
            remove = gr.Button(
                "Remove", size="sm", variant="stop", min_width=60, elem_id=f"compare-remove-{number}"
            )
    return CompareColumnPanel(
        group, summary, assistant, version, model, temperature, max_tokens, instructions, apply, chatbot,
        notice, regenerate, prefer, continue_, remove,
    )  # fmt: skip


def build_compare(editable: bool = True) -> ComparePanel:
    with gr.Column(visible=False, elem_id="playground-compare-panel") as group:
        with gr.Row(equal_height=False, elem_id="compare-columns"):
            columns = [_build_column(i, editable) for i in range(MAX_COLUMNS)]
        error = gr.Markdown("", visible=False, label="Compare problem", elem_classes="field-error",
                            elem_id="compare-error")  # fmt: skip
        notice = gr.Markdown("", label="Compare notice", elem_id="compare-notice")
        with gr.Row(equal_height=True):
            message = gr.Textbox(
                value="", label="Message to every column", placeholder="Enter sends to every column at once.",
                lines=1, max_lines=6, max_length=MESSAGE_MAX, elem_id="compare-input", scale=6,
            )  # fmt: skip
            send = gr.Button("Send to all", variant="primary", scale=1, min_width=100, elem_id="compare-send")
            stop = gr.Button("Stop all", variant="stop", scale=1, min_width=90, elem_id="compare-stop")
        with gr.Row():
            cost = gr.Markdown("", label="Cost of the turn", elem_id="compare-cost")
            add = gr.Button("Add a column", size="sm", scale=0, min_width=130, elem_id="compare-add")
            clear = gr.Button("Clear all", size="sm", scale=0, min_width=100, elem_id="compare-clear")
    return ComparePanel(group, columns, add, message, send, stop, clear, cost, error, notice)
