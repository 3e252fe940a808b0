"""The Playground tab: chat with my assistants, marketplace ones or a blank one. Layout first, wiring last."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import gradio as gr

from backend.schemas import INSTRUCTIONS_MAX, MESSAGE_MAX
from ui import playground_handlers as handlers
from ui.chat_session import AssistantProfile, ChatParameters, ChatSession
from ui.context import StudioContext
from ui.playground_handlers import Catalog, ChatView, OpenView
from ui.theme import escape_md

CHAT_HEIGHT = 480  # fixed, so the page does not jump while an answer streams
Views = AsyncGenerator[ChatView, None]


@dataclass
class PlaygroundTab:
    """What the app factory and the tests need from this tab."""

    open_request: gr.State  # set it to ui.context.open_request(...) to open an assistant here
    conversation: gr.State
    picker: gr.Dropdown
    chatbot: gr.Chatbot
    message: gr.Textbox
    send: gr.Button
    stop: gr.Button


def parameters(model: str | None, temperature: float | None, max_tokens: float | None) -> ChatParameters:
    """The Parameters accordion's values; empty fields mean the defaults."""
    return ChatParameters(
        model=model or None,
        temperature=0.7 if temperature is None else float(temperature),
        max_tokens=int(max_tokens) if max_tokens else None,
    )


def error_box(error: str) -> gr.Markdown:
    """The visible box near the input that names what went wrong and what to do."""
    return gr.Markdown(f"**Problem:** {escape_md(error)}" if error else "", visible=bool(error))


def render_chat(view: ChatView) -> tuple[Any, ...]:
    """A ChatView as the outputs of a one-shot chat action: state, chat, input, error, retry, cost."""
    return (*render_stream(view), *render_status(view))


def render_stream(view: ChatView) -> tuple[Any, ...]:
    """A ChatView as a stream's outputs: state, chat, input. Gradio rebuilds a component for every property
    update (gr.skip() included) on every step, so a stream outputs only these; render_status follows it.
    """
    view.conversation.pending_view = view
    draft = gr.skip() if view.draft is None else view.draft
    return view.conversation, view.conversation.to_chatbot(), draft


def render_status(view: ChatView) -> tuple[Any, ...]:
    """What a ChatView shows around the chat: error, retry, cost."""
    return (
        error_box(view.error),
        gr.Button(visible=view.conversation.last_failed),
        gr.skip() if view.cost is None else view.cost,
    )


def stream_status(conversation: ChatSession) -> tuple[Any, ...]:
    """The error, Retry and cost after a stream, from its last view kept in the conversation."""
    view = conversation.pending_view
    return render_status(view if isinstance(view, ChatView) else ChatView(conversation))


def hide_status() -> tuple[Any, ...]:
    """When a message goes out, the last problem and its Retry go away."""
    return error_box(""), gr.Button(visible=False)


def streamed(
    produce: Callable[..., Views],
) -> Callable[..., AsyncIterator[tuple[Any, ...]]]:
    """A handler's views as Gradio outputs, keeping its signature (Gradio names API parameters after it).

    aclosing: when Gradio closes this generator (Stop), the handler's generator and so its HTTP stream
    close at once, rather than whenever the garbage collector gets to them.
    """

    @functools.wraps(produce)
    async def run(*args: Any, **kwargs: Any) -> AsyncIterator[tuple[Any, ...]]:
        async with aclosing(produce(*args, **kwargs)) as views:
            async for view in views:
                yield render_stream(view)

    return run


def picker_choices(catalog: Catalog, current: AssistantProfile) -> list[tuple[str, str]]:
    """The picker's choices, always including the assistant that is open."""
    choices = catalog.picker_choices()
    if current.key not in {key for _, key in choices}:
        choices.append((current.name, current.key))
    return choices


def build_playground_tab(ctx: StudioContext, tab: gr.Tab) -> PlaygroundTab:
    """Lay out the Playground inside `tab` and wire its events."""
    chat_state = gr.State(ChatSession())
    catalog_state = gr.State(Catalog())
    request_state = gr.State(None)

    # --- Layout -----------------------------------------------------------------------------------------
    with gr.Row():
        picker = gr.Dropdown(
            choices=[("Blank assistant (type instructions)", handlers.BLANK_KEY)],
            value=handlers.BLANK_KEY,
            label="Assistant",
            info="One of your assistants, a marketplace one (type to search), or a blank one",
            allow_custom_value=True,  # an id typed or sent through the API, checked by the handler
            elem_id="playground-picker",
            scale=5,
        )
        refresh_button = gr.Button("Refresh list", size="sm", scale=1, elem_id="playground-refresh")
    summary = gr.Markdown(
        handlers.describe_assistant(AssistantProfile()),
        label="About this assistant",
        elem_id="playground-about",
    )
    chatbot = gr.Chatbot(
        label="Conversation",
        elem_id="playground-chat",
        height=CHAT_HEIGHT,
        editable="user",
        placeholder="Say hello, or pick an assistant above first.",
        buttons=["copy", "copy_all"],
        feedback_options=None,
    )
    with gr.Row(equal_height=True):
        error_markdown = gr.Markdown(
            "",
            visible=False,
            label="Problem",
            elem_id="playground-error",
            elem_classes="field-error",
            scale=5,
        )
        retry_button = gr.Button(
            "Retry",
            visible=False,
            variant="primary",
            size="sm",
            elem_id="playground-retry",
            scale=1,
            min_width=90,
        )
    with gr.Row(equal_height=True):
        message_box = gr.Textbox(
            value="",
            label="Message",
            placeholder="Type a message. Enter sends, Shift+Enter adds a line.",
            lines=1,  # with lines=1 Gradio sends on Enter; max_lines lets Shift+Enter grow the box
            max_lines=8,
            max_length=MESSAGE_MAX,
            elem_id="playground-input",
            scale=6,
        )
        send_button = gr.Button("Send", variant="primary", elem_id="playground-send", scale=1, min_width=80)
        stop_button = gr.Button("Stop", variant="stop", elem_id="playground-stop", scale=1, min_width=80)
    cost_markdown = gr.Markdown("", label="Cost and balance", elem_id="playground-cost")
    with gr.Row():
        regenerate_button = gr.Button("Regenerate last answer", size="sm", elem_id="playground-regenerate")
        undo_button = gr.Button("Undo last turn", size="sm", elem_id="playground-undo")
        clear_button = gr.Button("Clear chat", size="sm", elem_id="playground-clear")
    with gr.Accordion("Parameters", open=False):
        model_picker = gr.Dropdown(
            choices=[("The assistant's own model", "")],
            value="",
            label="Model",
            info="Overrides the assistant's model; each is priced per request",
            elem_id="playground-model",
        )
        temperature_slider = gr.Slider(
            0, 2, value=0.7, step=0.05, label="Temperature", elem_id="playground-temperature"
        )
        # minimum=0, not 1: Gradio shows an empty Number as 0 once its accordion opens, and a value below
        # the minimum makes every chat event fail before it reaches the handler. 0 means the default.
        max_tokens_box = gr.Number(
            value=None,
            label="Max tokens",
            info="Empty or 0: the model's default",
            precision=0,
            minimum=0,
            elem_id="playground-max-tokens",
        )
    with gr.Accordion("Instructions", open=True):
        instructions_box = gr.Textbox(
            value="",
            label="Instructions",
            info="Edit to try a change: it is sent as system text until you save it",
            lines=4,
            max_lines=12,
            max_length=INSTRUCTIONS_MAX,
            elem_id="playground-instructions",
        )
        note_markdown = gr.Markdown("", label="Saved or not", elem_id="playground-instructions-note")
        with gr.Row():
            save_button = gr.Button("Save instructions to assistant", size="sm", visible=False)
            reset_button = gr.Button("Reset to saved instructions", size="sm")
    with gr.Accordion("Edit a sent message", open=False):
        edit_number = gr.Number(
            label="Message number", info="1 is the first message you sent", precision=0, minimum=0, value=None
        )
        edit_text = gr.Textbox(value="", label="New text", lines=2, max_lines=8, max_length=MESSAGE_MAX)
        edit_button = gr.Button("Edit and ask again", size="sm")
    with gr.Accordion("Export", open=False):
        with gr.Row():
            markdown_button = gr.Button("Export as Markdown", size="sm")
            json_button = gr.Button("Export as JSON", size="sm")
        download = gr.File(label="Conversation file", interactive=False, elem_id="playground-download")

    # --- Handlers as Gradio calls them: parameters named for the API, optional ones with defaults -----

    @streamed
    def chat(conversation: ChatSession, catalog: Catalog, message: str, instructions: str = "",
             model: str = "", temperature: float = 0.7,
             max_tokens: float | None = None) -> Views:  # fmt: skip
        """Send a message with the whole history and stream the answer."""
        params = parameters(model, temperature, max_tokens)
        return handlers.chat(ctx, conversation, catalog, message or "", instructions or "", params)

    @streamed
    def regenerate(conversation: ChatSession, catalog: Catalog, instructions: str = "", model: str = "",
                   temperature: float = 0.7, max_tokens: float | None = None) -> Views:  # fmt: skip
        """Ask the last question again: Regenerate, or Retry after a failure."""
        params = parameters(model, temperature, max_tokens)
        return handlers.regenerate(ctx, conversation, catalog, instructions or "", params)

    @streamed
    def edit_message(conversation: ChatSession, catalog: Catalog, number: float | None, text: str,
                     instructions: str = "", model: str = "", temperature: float = 0.7,
                     max_tokens: float | None = None) -> Views:  # fmt: skip
        """Change sent message `number` (1 is the first), drop what followed, and ask it again."""
        params = parameters(model, temperature, max_tokens)
        return handlers.edit_message(
            ctx, conversation, catalog, number, text or "", instructions or "", params
        )

    @streamed
    def edit_in_chat(data: gr.EditData, conversation: ChatSession, catalog: Catalog, instructions: str,
                     model: str, temperature: float, max_tokens: float | None) -> Views:  # fmt: skip
        """The chat's own pencil on a user message."""
        number = (
            ChatSession.turn_index_of_message(data.index if isinstance(data.index, int) else data.index[0])
            + 1
        )
        params = parameters(model, temperature, max_tokens)
        return handlers.edit_message(
            ctx, conversation, catalog, number, _text(data.value), instructions or "", params
        )

    @streamed
    def starter(data: gr.SelectData, conversation: ChatSession, catalog: Catalog, instructions: str,
                model: str, temperature: float, max_tokens: float | None) -> Views:  # fmt: skip
        """A conversation starter, sent as the first message."""
        params = parameters(model, temperature, max_tokens)
        return handlers.chat(ctx, conversation, catalog, _text(data.value), instructions or "", params)

    def render_open(view: OpenView) -> tuple[Any, ...]:
        profile = view.conversation.assistant
        examples = [{"text": text} for text in profile.starters] or None
        return (
            view.conversation,
            view.catalog,
            gr.Dropdown(choices=picker_choices(view.catalog, profile), value=profile.key),
            gr.Chatbot(value=view.conversation.to_chatbot(), examples=examples),
            view.instructions,
            view.summary,
            gr.Button(visible=view.can_save and not ctx.demo),
            error_box(view.error),
            gr.Button(visible=view.conversation.last_failed),
            view.cost,
            gr.Dropdown(choices=view.catalog.model_choices(), value=""),
            "",
        )

    async def open_assistant(conversation: ChatSession, catalog: Catalog, key: str = handlers.BLANK_KEY):
        """Open "blank", "mine:<id>" or "market:<id>"; the conversation starts over."""
        return render_open(await handlers.open_assistant(ctx, conversation, catalog, key))

    async def open_requested(conversation: ChatSession, catalog: Catalog, request: dict[str, Any] | None):
        """Open what another tab asked for."""
        return render_open(await handlers.open_requested(ctx, conversation, catalog, request))

    async def refresh(conversation: ChatSession, instructions: str = "", model: str = "",
                      temperature: float = 0.7, max_tokens: float | None = None):  # fmt: skip
        """Reload my assistants, a page of the marketplace, the models and the balance."""
        catalog = await handlers.refresh(ctx)
        models = catalog.model_choices()
        model = model if model in {slug for _, slug in models} else ""
        params = parameters(model, temperature, max_tokens)
        return (
            catalog,
            gr.Dropdown(
                choices=picker_choices(catalog, conversation.assistant), value=conversation.assistant.key
            ),
            gr.Dropdown(choices=models, value=model),
            error_box(catalog.problem),
            handlers.cost_line(conversation, catalog, params, instructions or ""),
        )

    def show_cost(conversation: ChatSession, catalog: Catalog, instructions: str, model: str,
                  temperature: float, max_tokens: float | None) -> str:  # fmt: skip
        params = parameters(model, temperature, max_tokens)
        return handlers.cost_line(conversation, catalog, params, instructions or "")

    async def save_instructions(conversation: ChatSession, instructions: str = ""):
        """Save the instructions in the box to my assistant."""
        note, problem = await handlers.save_instructions(ctx, conversation, instructions or "")
        return note, error_box(problem)

    def exporter(write: Callable[[ChatSession, str, ChatParameters], str]) -> Callable[..., str]:
        def export(conversation: ChatSession, instructions: str = "", model: str = "",
                   temperature: float = 0.7, max_tokens: float | None = None) -> str:  # fmt: skip
            """Write the conversation to a file for download."""
            return write(conversation, instructions or "", parameters(model, temperature, max_tokens))

        return export

    # --- Wiring -----------------------------------------------------------------------------------------
    settings = [instructions_box, model_picker, temperature_slider, max_tokens_box]
    state = [chat_state, catalog_state]
    stream_outputs = [chat_state, chatbot, message_box]  # the chatbot first: the README's example reads it
    status_outputs = [error_markdown, retry_button, cost_markdown]
    chat_outputs = [*stream_outputs, *status_outputs]
    open_outputs = [*state, picker, chatbot, instructions_box, summary, save_button, error_markdown]
    open_outputs += [retry_button, cost_markdown, model_picker, note_markdown]
    # 50 people chatting at once: the streams must not queue behind each other in Gradio.
    streaming: dict[str, Any] = {
        "outputs": stream_outputs,
        "concurrency_limit": None,
        "show_progress": "hidden",
    }
    quick: dict[str, Any] = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
    streams: list[Any] = []

    def stream(trigger: Any, fn: Callable[..., Any], inputs: list[Any], *, event_data: bool = False,
               **names: Any) -> None:  # fmt: skip
        """Hide the last problem, stream the answer (the named API endpoint), then show error, Retry, cost.

        Gradio passes a trigger's event data (gr.EditData, gr.SelectData) to its own listeners only, not
        to steps chained with .then: a handler that needs it is triggered at once, beside the hiding.
        """
        hidden = gr.on(trigger, hide_status, None, status_outputs[:2], **quick)
        streams.append(
            gr.on(trigger, fn, inputs, **names, **streaming)
            if event_data
            else hidden.then(fn, inputs, **names, **streaming)
        )
        streams[-1].then(stream_status, chat_state, status_outputs, **quick)

    stream([message_box.submit, send_button.click], chat, [*state, message_box, *settings], api_name="chat")
    stream(regenerate_button.click, regenerate, [*state, *settings], api_name="regenerate")
    stream(retry_button.click, regenerate, [*state, *settings], api_name="retry")
    stream(edit_button.click, edit_message, [*state, edit_number, edit_text, *settings],
           api_name="edit_message")  # fmt: skip
    stream(chatbot.edit, edit_in_chat, [*state, *settings], event_data=True, api_visibility="private")
    stream(chatbot.example_select, starter, [*state, *settings], event_data=True, api_visibility="private")
    # Stop cancels the running stream (Gradio closes the generator, which closes the HTTP stream) and marks
    # the turn stopped in the shared state; undo and clear stop it the same way before they change anything.
    for button, action in (
        (stop_button, handlers.stop),
        (undo_button, handlers.undo),
        (clear_button, handlers.clear),
    ):
        button.click(
            lambda conversation, act=action: render_chat(act(conversation)),
            inputs=chat_state,
            outputs=chat_outputs,
            cancels=streams,
            api_name=action.__name__,
            show_progress="hidden",
        )
    # The chat's own bin empties only what is shown; the conversation itself must go too.
    chatbot.clear(lambda conversation: render_chat(handlers.clear(conversation)), chat_state, chat_outputs,
                  cancels=streams, api_visibility="private")  # fmt: skip
    opening: dict[str, Any] = {"outputs": open_outputs, "cancels": streams, "concurrency_limit": None}
    picker.input(open_assistant, [*state, picker], api_name="open_assistant", **opening)
    request_state.change(open_requested, [*state, request_state], api_visibility="private", **opening)
    refreshed = [catalog_state, picker, model_picker, error_markdown, cost_markdown]
    gr.on([tab.select, refresh_button.click], refresh, [chat_state, *settings], refreshed,
          api_name="refresh", concurrency_limit=None, show_progress="hidden")  # fmt: skip
    gr.on([model_picker.change, instructions_box.change], show_cost, [*state, *settings], cost_markdown,
          api_visibility="private", show_progress="hidden", queue=False)  # fmt: skip
    saved = save_button.click(save_instructions, [chat_state, instructions_box],
                              [note_markdown, error_markdown], api_name="save_instructions")  # fmt: skip
    saved.then(show_cost, [*state, *settings], cost_markdown, api_visibility="private", queue=False)
    reset_button.click(
        handlers.reset_instructions, chat_state, instructions_box, api_name="reset_instructions"
    )
    markdown_button.click(exporter(handlers.export_markdown), [chat_state, *settings], download,
                          api_name="export_markdown")  # fmt: skip
    json_button.click(
        exporter(handlers.export_json), [chat_state, *settings], download, api_name="export_json"
    )
    return PlaygroundTab(
        open_request=request_state,
        conversation=chat_state,
        picker=picker,
        chatbot=chatbot,
        message=message_box,
        send=send_button,
        stop=stop_button,
    )


def _text(value: Any) -> str:
    """The text of an edited message or a chosen starter, whichever shape the chat sent it in."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("text") or value.get("content") or "")
    if isinstance(value, list):
        return "".join(_text(part) for part in value)
    return ""
