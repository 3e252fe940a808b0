"""The Playground's chat events: the handlers as Gradio calls them (named API endpoints), and their wiring.

Handlers take the tab's session (ui.playground.session.PlaygroundSession) and the form's values, call the
plain functions of ui.playground.chat and saved, and turn what those return into components (views).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import gradio as gr

from ui.chat_display import chat_messages, typed_text
from ui.context import StudioContext
from ui.playground import chat as handlers
from ui.playground import saved as keeping
from ui.playground.layout import CURRENT_VERSION, ChatPanel, ChatTools, Settings, error_box
from ui.playground.session import PlaygroundSession
from ui.playground.views import (
    hide_status,
    kept_copy,
    parameters,
    picker_choices,
    recent_list,
    render_view,
    status_after,
    stream_frame,
    variable_fields,
    version_choices,
)
from ui.suites_tab import save_conversation_as_case

# What the streaming handlers produce. At module level: Gradio reads a handler's type hints to find its
# event data parameter (gr.EditData, gr.SelectData), and a hint it cannot resolve hides them all.
ChatViews = AsyncGenerator[handlers.ChatView, None]


def _text(value: Any) -> str:
    """The text of an edited message or a chosen starter, whichever shape the chat sent it in."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return str(value.get("text") or value.get("content") or "")
    if isinstance(value, list):
        return "".join(_text(part) for part in value)
    return ""


def wire_chat(
    ctx: StudioContext,
    blocks: gr.Blocks,
    tab: gr.Tab,
    session_state: gr.State,
    request_state: gr.State,
    browser: gr.BrowserState,
    s: Settings,
    c: ChatPanel,
    t: ChatTools,
) -> None:
    def streamed(produce: Callable[..., ChatViews]) -> Callable[..., AsyncIterator[tuple[Any, ...]]]:
        """A handler's views as the stream's outputs (the session, the chat, the input), keeping its
        signature: Gradio names API parameters after it. The last view is kept in the session for the
        step after the stream. aclosing: Stop closes the handler's generator, and so its HTTP stream, at once.
        """

        @functools.wraps(produce)
        async def run(
            session: PlaygroundSession, *args: Any, **kwargs: Any
        ) -> AsyncIterator[tuple[Any, ...]]:
            last = None
            async with aclosing(produce(session, *args, **kwargs)) as views:
                async for view in views:
                    last = view
                    yield stream_frame(session, view)
            # Kept only once the stream is over: a message refused while another answer streams (both run at
            # once) must not have its refusal overwritten by the other stream's frames before it is shown.
            session.last_view = last

        return run

    # Handlers as Gradio calls them: parameters named for the API, optional ones with defaults.

    @streamed
    def chat(session: PlaygroundSession, message: str, instructions: str = "", model: str = "",
             temperature: float = 0.7, max_tokens: float | None = None,
             variables: dict[str, str] | None = None) -> ChatViews:  # fmt: skip
        """Send a message with the whole history and stream the answer."""
        session.use_values(variables)
        return handlers.chat(ctx, session.chat, session.choices, message or "", instructions or "",
                             parameters(model, temperature, max_tokens))  # fmt: skip

    @streamed
    def regenerate(session: PlaygroundSession, instructions: str = "", model: str = "", temperature: float = 0.7,
                   max_tokens: float | None = None, variables: dict[str, str] | None = None) -> ChatViews:  # fmt: skip
        """Ask the last question again: Regenerate, or Retry after a failure."""
        session.use_values(variables)
        return handlers.regenerate(ctx, session.chat, session.choices, instructions or "",
                                   parameters(model, temperature, max_tokens))  # fmt: skip

    @streamed
    def edit_message(session: PlaygroundSession, number: float | None, text: str, instructions: str = "",
                     model: str = "", temperature: float = 0.7, max_tokens: float | None = None,
                     variables: dict[str, str] | None = None) -> ChatViews:  # fmt: skip
        """Change sent message `number` (1 is the first), drop what followed, and ask it again."""
        session.use_values(variables)
        return handlers.edit_message(ctx, session.chat, session.choices, number, text or "", instructions or "",
                                     parameters(model, temperature, max_tokens))  # fmt: skip

    @streamed
    def edit_in_chat(data: gr.EditData, session: PlaygroundSession, instructions: str, model: str,
                     temperature: float, max_tokens: float | None, variables: dict | None,
                     *fields: str) -> ChatViews:  # fmt: skip
        """The chat's own pencil on a user message."""
        session.take_fields(variables, fields)
        index = data.index if isinstance(data.index, int) else data.index[0]
        number = session.chat.turn_index_of_message(index) + 1
        return handlers.edit_message(ctx, session.chat, session.choices, number, typed_text(_text(data.value)),
                                     instructions or "", parameters(model, temperature, max_tokens))  # fmt: skip

    @streamed
    def starter(data: gr.SelectData, session: PlaygroundSession, instructions: str, model: str,
                temperature: float, max_tokens: float | None, variables: dict | None,
                *fields: str) -> ChatViews:  # fmt: skip
        """A conversation starter, sent as the first message."""
        session.take_fields(variables, fields)
        return handlers.chat(ctx, session.chat, session.choices, _text(data.value), instructions or "",
                             parameters(model, temperature, max_tokens))  # fmt: skip

    def after_stream(session: PlaygroundSession, instructions: str, model: str, temperature: float,
                     max_tokens: float | None) -> tuple[Any, ...]:  # fmt: skip
        """The error, Retry and cost after a stream; the browser keeps the conversation."""
        return (
            *status_after(session),
            *kept_copy(ctx, session, instructions, parameters(model, temperature, max_tokens)),
        )

    async def render_open(session: PlaygroundSession, view: handlers.OpenView) -> dict[Any, Any]:
        """Everything opening an assistant sets, by component (Gradio updates only those given)."""
        profile = view.conversation.assistant
        examples = [{"text": text} for text in profile.starters] or None
        values: dict[Any, Any] = {
            session_state: session,
            s.picker: gr.Dropdown(choices=picker_choices(session), value=profile.key),
            c.chatbot: gr.Chatbot(value=chat_messages(view.conversation), examples=examples),
            s.instructions: view.instructions,
            s.summary: view.summary,
            s.save_row: gr.Row(visible=view.can_save and not ctx.demo),
            c.error: error_box(view.error),
            c.retry: gr.Button(visible=view.conversation.last_failed),
            c.cost: view.cost,
            s.model: gr.Dropdown(choices=session.choices.model_choices(), value=""),
            s.saved_note: "",
            s.version: await version_choices(ctx, profile),
        }
        fields = variable_fields(session, view.instructions)
        values.update(zip([*s.variables, s.variables_notice, s.variables_json], fields, strict=True))
        return values

    async def open_assistant(session: PlaygroundSession, key: str = "blank"):
        """Open "blank", "mine:<id>", "market:<id>" or a name; the conversation starts over."""
        return await render_open(
            session, await handlers.open_assistant(ctx, session.chat, session.choices, key)
        )

    async def open_version(session: PlaygroundSession, version: str = CURRENT_VERSION):
        """Chat with a version (a number or a label) of the open assistant, without restoring it."""
        view = await handlers.open_version(ctx, session.chat, session.choices, version)
        return await render_open(session, view)

    async def open_requested(session: PlaygroundSession, request: dict[str, Any] | None):
        """Open what another tab asked for, once."""
        if not session.is_new_request(request):
            return {}  # nothing changes
        return await render_open(
            session, await handlers.open_requested(ctx, session.chat, session.choices, request)
        )

    async def on_load(session: PlaygroundSession, document: Any, instructions: str, model: str,
                      temperature: float, max_tokens: float | None):  # fmt: skip
        """Refresh the choices; on a fresh page, bring back the last conversation kept in the browser."""
        since = session.instructions_changes
        await handlers.refresh(ctx, session.choices)
        reopened = keeping.load(session, document, ctx.browser_fingerprint)
        if reopened.saved is not None:
            values = await render_reopened(session, reopened)
        else:
            values = await refreshed(session, instructions, model, temperature, max_tokens, since)
        return {**values, s.recent: recent_list(session), s.recent_notice: reopened.notice}

    async def on_browser_copy(session: PlaygroundSession, document: Any):
        """The browser's copy arrived (once its storage is read): bring back the last conversation."""
        reopened = keeping.load(session, document, ctx.browser_fingerprint)
        if reopened.saved is None:
            return {s.recent: recent_list(session), s.recent_notice: reopened.notice or gr.skip()}
        values = await render_reopened(session, reopened)
        return {**values, s.recent: recent_list(session), s.recent_notice: reopened.notice}

    async def refreshed(session: PlaygroundSession, instructions: str, model: str, temperature: float,
                        max_tokens: float | None, since: int) -> dict[Any, Any]:  # fmt: skip
        """After a refresh: the same conversation and the instructions being edited, fresh choices.

        `instructions` is the box as the refresh began (`since` changes seen); the cost and the variables
        follow the newest text, which the person may have typed while the refresh waited on the API.
        """
        models = session.choices.model_choices()
        model = model if model in {slug for _, slug in models} else ""
        values = await render_open(
            session, handlers._open_view(session.chat, session.choices, session.choices.problem)
        )
        instructions = session.newest_instructions(instructions or "", since)
        del values[c.chatbot], values[s.instructions], values[s.saved_note]
        values[c.cost] = handlers.cost_line(session.chat, session.choices, parameters(model, temperature, max_tokens),
                                            instructions or "")  # fmt: skip
        values[s.model] = gr.Dropdown(choices=models, value=model)
        fields = variable_fields(session, instructions or "")
        values.update(zip([*s.variables, s.variables_notice, s.variables_json], fields, strict=True))
        return values

    async def render_reopened(session: PlaygroundSession, reopened: keeping.Reopened) -> dict[Any, Any]:
        saved = reopened.saved
        assert saved is not None
        values = await render_open(session, handlers._open_view(session.chat, session.choices, ""))
        values[s.instructions] = saved.instructions or values[s.instructions]
        values[c.cost] = handlers.cost_line(
            session.chat, session.choices, saved.parameters, saved.instructions
        )
        values[s.model] = gr.Dropdown(
            choices=session.choices.model_choices(), value=saved.parameters.model or ""
        )
        values[s.temperature] = saved.parameters.temperature
        values[s.max_tokens] = saved.parameters.max_tokens
        fields = variable_fields(session, saved.instructions)
        values.update(zip([*s.variables, s.variables_notice, s.variables_json], fields, strict=True))
        return values

    async def refresh(session: PlaygroundSession, instructions: str = "", model: str = "",
                      temperature: float = 0.7, max_tokens: float | None = None):  # fmt: skip
        """Reload my assistants, the marketplace, the models, the balance and the engines."""
        since = session.instructions_changes
        await handlers.refresh(ctx, session.choices)
        return await refreshed(session, instructions, model, temperature, max_tokens, since)

    def show_cost(session: PlaygroundSession, instructions: str, model: str, temperature: float,
                  max_tokens: float | None) -> str:  # fmt: skip
        return handlers.cost_line(session.chat, session.choices, parameters(model, temperature, max_tokens),
                                  instructions or "")  # fmt: skip

    def on_instructions(session: PlaygroundSession, instructions: str) -> list[Any]:
        session.saw_instructions(instructions or "")
        return variable_fields(session, instructions or "")

    def on_variable(index: int, session: PlaygroundSession, value: str) -> dict[str, str]:
        session.set_value(index, value or "")
        return {name: session.values().get(name, "") for name in session.fields}

    async def save_instructions(session: PlaygroundSession, instructions: str = "", note: str = ""):
        """Save the instructions in the box to my assistant, as a new version with an optional note."""
        done, problem = await handlers.save_instructions(ctx, session.chat, instructions or "", note or "")
        return done, error_box(problem)

    async def after_save(session: PlaygroundSession, note: str, done: str):
        """The note is used up, and the Version picker lists the new version."""
        return ("" if done else note), await version_choices(ctx, session.chat.assistant)

    def exporter(write: Callable[..., str]) -> Callable[..., str]:
        def export(session: PlaygroundSession, instructions: str = "", model: str = "", temperature: float = 0.7,
                   max_tokens: float | None = None) -> str:  # fmt: skip
            """Write the conversation to a file for download."""
            return write(session.chat, instructions or "", parameters(model, temperature, max_tokens))

        return export

    async def reopen(session: PlaygroundSession, chat_id: str | None, confirmed: bool = False):
        """Bring a conversation kept in this browser back into the chat."""
        reopened = keeping.reopen(session, chat_id, ctx.browser_fingerprint, confirmed=confirmed)
        confirm = gr.Button(visible=reopened.needs_confirmation)
        if reopened.saved is None:
            return {s.recent_notice: reopened.notice, s.reopen_anyway: confirm}
        return {**await render_reopened(session, reopened), s.recent_notice: "", s.reopen_anyway: confirm}

    async def save_as_test_case(
        session: PlaygroundSession, suite: str = "Conversations", description: str = ""
    ):
        """Keep the conversation as a test case of the assistant's suite: its user turns, its answers as the
        reference, to replay against other versions in Test Suites."""
        return await save_conversation_as_case(ctx, session.chat, suite or "", description or "")

    def forget(session: PlaygroundSession, chat_id: str | None):
        """Delete a conversation from this browser's list."""
        document, notice = keeping.forget(session, chat_id)
        return document, recent_list(session), notice

    # --- Wiring ---------------------------------------------------------------------------------------
    form = [s.instructions, s.model, s.temperature, s.max_tokens]
    form_vars = [*form, s.variables_json]
    stream_outputs = [c.chatbot, c.message]  # the chatbot first: scripts read it
    status_outputs = [c.error, c.retry, c.cost]
    # The first ones in the order scripts have read them since the Playground's first release.
    open_outputs = [session_state, s.picker, c.chatbot, s.instructions, s.summary, s.save_row, c.error, c.retry, c.cost,
                    s.model, s.saved_note, s.version, *s.variables, s.variables_notice, s.variables_json]  # fmt: skip
    # 50 people chatting at once: the streams must not queue behind each other in Gradio.
    streaming: dict[str, Any] = {
        "outputs": stream_outputs,
        "concurrency_limit": None,
        "show_progress": "hidden",
        "trigger_mode": "multiple",
    }
    quick: dict[str, Any] = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
    streams: list[Any] = []

    def going_out(session: PlaygroundSession, copy: dict | None, *fields: str) -> tuple[Any, ...]:
        """A message goes out: the last problem and its Retry go away, and the variables are taken from the
        fields (the JSON copy the message handlers read, which can lag behind them, is brought up to date)."""
        return (*hide_status(), session.take_fields(copy, fields))

    def stream(trigger: Any, fn: Callable[..., Any], inputs: list[Any], *, event_data: bool = False,
               **names: Any) -> None:  # fmt: skip
        """Hide the last problem, stream the answer (the named API endpoint), then show error, Retry, cost.

        Gradio passes a trigger's event data (gr.EditData, gr.SelectData) to its own listeners only, not
        to steps chained with .then: a handler that needs it is triggered at once, beside the hiding.
        "multiple": a second Send while an answer streams reaches the handler, which says why it waits.
        """
        hidden = gr.on(trigger, going_out, [session_state, s.variables_json, *s.variables],
                       [*status_outputs[:2], s.variables_json], trigger_mode="multiple", **quick)  # fmt: skip
        streams.append(
            gr.on(trigger, fn, inputs, **names, **streaming)
            if event_data
            else hidden.then(fn, inputs, **names, **streaming)
        )
        streams[-1].then(after_stream, [session_state, *form], [*status_outputs, browser, s.recent], **quick)

    stream([c.message.submit, c.send.click], chat, [session_state, c.message, *form_vars], api_name="chat")
    stream(c.regenerate.click, regenerate, [session_state, *form_vars], api_name="regenerate")
    stream(c.retry.click, regenerate, [session_state, *form_vars], api_name="retry")
    stream(
        t.edit.click,
        edit_message,
        [session_state, t.edit_number, t.edit_text, *form_vars],
        api_name="edit_message",
    )
    # Triggered beside going_out, not after it: these read the fields themselves.
    form_fields = [session_state, *form_vars, *s.variables]
    stream(c.chatbot.edit, edit_in_chat, form_fields, event_data=True, api_visibility="private")
    stream(c.chatbot.example_select, starter, form_fields, event_data=True, api_visibility="private")
    # Stop cancels the running stream (Gradio closes the generator, which closes the HTTP stream) and marks
    # the turn stopped in the shared state; undo and clear stop it the same way before they change anything.
    # The browser's copy follows each of them, so a reload shows the conversation as it was left.
    one_shot = [*stream_outputs, *status_outputs]
    kept = {
        "fn": after_stream,
        "inputs": [session_state, *form],
        "outputs": [*status_outputs, browser, s.recent],
    }
    for button, action in ((c.stop, handlers.stop), (c.clear, handlers.clear)):
        button.click(
            lambda session, act=action: render_view(session, act(session.chat)), inputs=session_state,
            outputs=one_shot, cancels=streams, api_name=action.__name__, show_progress="hidden",
        ).then(**kept, **quick)  # fmt: skip
    c.undo.click(
        lambda session, message="": render_view(session, handlers.undo(session.chat, message or "")),
        inputs=[session_state, c.message], outputs=one_shot, cancels=streams, api_name="undo", show_progress="hidden",
    ).then(**kept, **quick)  # fmt: skip
    # The chat's own bin empties only what is shown; the conversation itself must go too.
    c.chatbot.clear(lambda session: render_view(session, handlers.clear(session.chat)), session_state, one_shot,
                    cancels=streams, api_visibility="private").then(**kept, **quick)  # fmt: skip
    opening: dict[str, Any] = {"outputs": open_outputs, "cancels": streams, "concurrency_limit": None}
    s.picker.input(open_assistant, [session_state, s.picker], api_name="open_assistant", **opening)
    s.version.input(open_version, [session_state, s.version], api_name="open_version", **opening)
    request_state.change(open_requested, [session_state, request_state], api_visibility="private", **opening)
    loading = [*open_outputs, s.temperature, s.max_tokens, s.recent, s.recent_notice]
    blocks.load(on_load, [session_state, browser, *form], loading, api_visibility="private", concurrency_limit=None,
                show_progress="hidden")  # fmt: skip
    browser.change(on_browser_copy, [session_state, browser], loading, api_visibility="private",
                   show_progress="hidden")  # fmt: skip
    gr.on([tab.select, s.refresh.click], refresh, [session_state, *form], open_outputs, api_name="refresh",
          concurrency_limit=None, show_progress="hidden")  # fmt: skip
    gr.on([s.model.change, s.instructions.change, s.temperature.change, s.max_tokens.change], show_cost,
          [session_state, *form], c.cost, **quick)  # fmt: skip
    s.instructions.change(on_instructions, [session_state, s.instructions],
                          [*s.variables, s.variables_notice, s.variables_json], **quick)  # fmt: skip
    # .change, not .input: a field shown by an update never fired .input here (Gradio 6.31); .change also
    # fires when variable_fields fills a field, which stores the same value again.
    for index, box in enumerate(s.variables):
        box.change(functools.partial(on_variable, index), [session_state, box], s.variables_json, **quick)
    saved = s.save.click(save_instructions, [session_state, s.instructions, s.save_note], [s.saved_note, c.error],
                         api_name="save_instructions")  # fmt: skip
    saved.then(
        after_save,
        [session_state, s.save_note, s.saved_note],
        [s.save_note, s.version],
        api_visibility="private",
    )
    saved.then(show_cost, [session_state, *form], c.cost, **quick)
    s.reset.click(lambda session: handlers.reset_instructions(session.chat), session_state, s.instructions,
                  api_name="reset_instructions")  # fmt: skip
    t.export_markdown.click(exporter(handlers.export_markdown), [session_state, *form], t.download,
                            api_name="export_markdown")  # fmt: skip
    t.export_json.click(
        exporter(handlers.export_json), [session_state, *form], t.download, api_name="export_json"
    )
    reopened = [*open_outputs, s.temperature, s.max_tokens, s.recent_notice, s.reopen_anyway]
    s.reopen.click(
        reopen, [session_state, s.recent], reopened, api_name="reopen_conversation", cancels=streams
    )
    s.reopen_anyway.click(functools.partial(reopen, confirmed=True), [session_state, s.recent], reopened,
                          api_visibility="private", cancels=streams)  # fmt: skip
    t.save_case.click(save_as_test_case, [session_state, t.case_suite, t.case_description], t.case_notice,
                      api_name="save_as_test_case")  # fmt: skip
    s.forget.click(forget, [session_state, s.recent], [browser, s.recent, s.recent_notice],
                   api_name="forget_conversation")  # fmt: skip
