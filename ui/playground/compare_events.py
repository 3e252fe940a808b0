"""The Playground's Compare events: the handlers as Gradio calls them (named API endpoints), and their
wiring. They call the plain functions of ui.playground.compare and turn what those return into components."""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import gradio as gr

from studio.compare import MAX_COLUMNS, ColumnSpec
from studio.conversation import AssistantProfile, ChatInputError
from ui.chat_display import chat_messages
from ui.context import StudioContext
from ui.playground import compare as comparing
from ui.playground.layout import CHAT, COMPARE, CURRENT_VERSION, ChatPanel, ComparePanel, Settings, error_box
from ui.playground.session import PlaygroundSession
from ui.playground.views import (
    kept_copy,
    parameters,
    picker_choices,
    version_choices,
    version_offer,
)
from ui.theme import escape_md

# What the streaming handlers produce; at module level for Gradio to read (see ui.playground.chat_events).
CompareViews = AsyncGenerator[comparing.CompareView, None]


def wire_compare(
    ctx: StudioContext,
    session_state: gr.State,
    browser: gr.BrowserState,
    s: Settings,
    c: ChatPanel,
    p: ComparePanel,
    mode: gr.Radio,
) -> None:
    def column_chats(session: PlaygroundSession) -> list[Any]:
        columns = session.compare.columns
        return [
            chat_messages(columns[i].conversation) if i < len(columns) else [] for i in range(MAX_COLUMNS)
        ]

    def streamed(produce: Callable[..., CompareViews]) -> Callable[..., AsyncIterator[tuple[Any, ...]]]:
        @functools.wraps(produce)
        async def run(
            session: PlaygroundSession, *args: Any, **kwargs: Any
        ) -> AsyncIterator[tuple[Any, ...]]:
            async with aclosing(produce(session, *args, **kwargs)) as views:
                async for view in views:
                    session.last_view = view
                    yield (session, *column_chats(session), gr.skip() if view.draft is None else view.draft)

        return run

    def layout(session: PlaygroundSession, view: comparing.CompareView) -> tuple[Any, ...]:
        """Everything Compare shows: each column (visible, summary, settings, chat, problem), the cost."""
        columns = session.compare.columns
        per_column: list[Any] = []
        notices = view.notices or comparing.column_notices(session.compare)
        choices = [("The chat's assistant", ""), *picker_choices(session)]
        for i in range(MAX_COLUMNS):
            if i >= len(columns):
                per_column += [gr.Column(visible=False), gr.skip(), gr.skip(), gr.skip(), [], ""]
                continue
            column = columns[i]
            per_column += [
                gr.Column(visible=True),
                f"**Column {i + 1}** · {escape_md(column.describe(session.choices.default_model))}",
                gr.Dropdown(choices=choices, value=column.spec.key),
                gr.Dropdown(choices=session.choices.model_choices(), value=column.spec.model or ""),
                chat_messages(column.conversation),
                gr.Markdown(escape_md(notices[i]) if i < len(notices) else ""),
            ]
        return (
            session, *per_column, error_box(view.error), gr.skip() if view.cost is None else view.cost,
            gr.Button(interactive=len(columns) < MAX_COLUMNS),
        )  # fmt: skip

    per_column_outputs: list[Any] = []
    for col in p.columns:
        per_column_outputs += [col.group, col.summary, col.assistant, col.model, col.chatbot, col.notice]
    layout_outputs = [session_state, *per_column_outputs, p.error, p.cost, p.add]

    async def switch_mode(session: PlaygroundSession, chosen: str):
        """Chat or Compare; Compare opens with the chat's assistant in two columns."""
        compare = chosen == COMPARE
        view = await comparing.start(ctx, session.compare, session.choices, session.chat) if compare else None
        shown = layout(session, view) if view is not None else (gr.skip(),) * len(layout_outputs)
        return (gr.Column(visible=not compare), gr.Column(visible=compare), *shown)

    async def set_column(session: PlaygroundSession, column: float, assistant: str = "", version: str = CURRENT_VERSION,
                         model: str = "", temperature: float = 0.7, max_tokens: float | None = None,
                         instructions: str = ""):  # fmt: skip
        """Make a column (1 to 4) run an assistant (a picker key, "" the chat's), a version, a model and
        parameters; column 3 or 4 is added if it is the next one."""
        try:
            index = int(column) - 1
            spec = ColumnSpec(
                key=assistant or "", version=None if version in (None, "", CURRENT_VERSION) else int(str(version).lstrip("v")),
                model=model or None, instructions=instructions or "",
                temperature=parameters(None, temperature, None).temperature, max_tokens=parameters(None, None, max_tokens).max_tokens,
            )  # fmt: skip
        except (TypeError, ValueError):
            view = comparing.CompareView(
                session.compare, error="Give the column as 1 to 4 and the version as a number."
            )
            return layout(session, view)
        return layout(
            session,
            await comparing.set_column(ctx, session.compare, session.choices, session.chat, index, spec),
        )

    def add_column(session: PlaygroundSession):
        """Add a column (at most four) running the chat's assistant."""
        return layout(session, comparing.add_column(session.compare, session.choices, session.chat))

    def remove_column(session: PlaygroundSession, column: float):
        """Remove a column (1 to 4); at least two stay."""
        return layout(session, comparing.remove_column(session.compare, session.choices, int(column) - 1))

    @streamed
    def compare(
        session: PlaygroundSession, message: str, variables: dict[str, str] | None = None
    ) -> CompareViews:
        """Send one message to every column; the answers stream side by side."""
        session.use_values(variables)
        return comparing.send(ctx, session.compare, session.choices, message or "", session.chat.variables,
                              session.chat)  # fmt: skip

    @streamed
    def compare_regenerate(
        session: PlaygroundSession, column: float, variables: dict[str, str] | None = None
    ) -> CompareViews:
        """Ask one column (1 to 4) its last question again."""
        session.use_values(variables)
        return comparing.regenerate(
            ctx, session.compare, session.choices, int(column) - 1, session.chat.variables
        )

    def after_compare(session: PlaygroundSession) -> tuple[Any, ...]:
        view = session.last_view
        if not isinstance(view, comparing.CompareView):
            view = comparing.CompareView(session.compare)
        return layout(session, view)

    def compare_stop(session: PlaygroundSession):
        """Stop every column's answer."""
        return layout(session, comparing.stop(session.compare, session.choices))

    def compare_clear(session: PlaygroundSession):
        """Start every column's conversation over."""
        return layout(session, comparing.clear(session.compare, session.choices))

    async def chats_versions(session: PlaygroundSession) -> list[Any]:
        """The Version pickers of the columns that run the chat's assistant offer its versions. (A column's
        own assistant picker, which fills its Version picker, fires nothing while it stays on the chat's.)"""
        columns = session.compare.columns
        following = {i for i, column in enumerate(columns) if not column.spec.key}
        if not following:
            return [gr.skip()] * MAX_COLUMNS
        offered = await version_offer(ctx, session.chat.assistant)
        chosen = [None if (v := column.spec.version) is None else str(v) for column in columns]
        return [offered.picker(chosen[i]) if i in following else gr.skip() for i in range(MAX_COLUMNS)]

    def going_out(session: PlaygroundSession, copy: dict | None, *fields: str) -> tuple[Any, Any]:
        """A turn goes out: the last problem goes away, and the variables are taken from the fields."""
        return error_box(""), session.take_fields(copy, fields)

    async def column_versions(session: PlaygroundSession, key: str) -> gr.Dropdown:
        """The Version picker of a column, for the assistant it is set to ("" the chat's)."""
        if not key:
            return await version_choices(ctx, session.chat.assistant)
        try:
            probe = await comparing.column_profile(ctx, session.choices, session.chat, ColumnSpec(key=key))
        except Exception:  # a name that is not an assistant: the Apply step will say so
            probe = AssistantProfile()
        return await version_choices(ctx, probe)

    async def compare_prefer(session: PlaygroundSession, column: float) -> str:
        """Record that a column (1 to 4) gave the answer you preferred, against the version it ran."""
        return await comparing.prefer(ctx, session.compare, int(column) - 1)

    def compare_continue(session: PlaygroundSession, column: float):
        """Leave Compare with a column's conversation (1 to 4) as the chat."""
        try:
            chat = comparing.continue_with(session.compare, int(column) - 1)
        except ChatInputError as err:
            return (gr.skip(),) * 5 + (str(err),)
        session.chat.stop()
        session.chat = chat
        spec = session.compare.column(int(column) - 1).spec
        return (session, CHAT, chat_messages(chat), spec.instructions or chat.assistant.instructions,
                spec.model or "", "")  # fmt: skip

    def keep_continued(session: PlaygroundSession, instructions: str, model: str, temperature: float,
                       max_tokens: float | None) -> tuple[Any, Any]:  # fmt: skip
        """The browser keeps the conversation continued from a column, so a reload brings it back."""
        return kept_copy(ctx, session, instructions, parameters(model, temperature, max_tokens))

    # --- Wiring ---------------------------------------------------------------------------------------
    quick: dict[str, Any] = {"api_visibility": "private", "queue": False, "show_progress": "hidden"}
    versions: dict[str, Any] = {"fn": chats_versions, "inputs": session_state, "api_visibility": "private",
                                "outputs": [col.version for col in p.columns], "show_progress": "hidden"}  # fmt: skip
    mode.change(
        switch_mode, [session_state, mode], [c.group, p.group, *layout_outputs], api_visibility="private"
    ).then(**versions)
    streaming: dict[str, Any] = {"outputs": [session_state, *(col.chatbot for col in p.columns), p.message],
                                 "concurrency_limit": None, "show_progress": "hidden"}  # fmt: skip
    streams: list[Any] = []
    hide = gr.on(
        [p.message.submit, p.send.click],
        going_out,
        [session_state, s.variables_json, *s.variables],
        [p.error, s.variables_json],
        trigger_mode="multiple",
        **quick,
    )
    streams.append(
        hide.then(compare, [session_state, p.message, s.variables_json], api_name="compare", **streaming)
    )
    for index, col in enumerate(p.columns):
        number = gr.Number(value=index + 1, visible=False, label=f"Column {index + 1} number")
        streams.append(col.regenerate.click(compare_regenerate, [session_state, number, s.variables_json],
                                            api_name=None if index else "compare_regenerate",
                                            api_visibility="public" if index == 0 else "private", **streaming))  # fmt: skip
        col.apply.click(set_column, [session_state, number, col.assistant, col.version, col.model, col.temperature,
                                     col.max_tokens, col.instructions], layout_outputs,
                        api_name=None if index else "compare_column",
                        api_visibility="public" if index == 0 else "private")  # fmt: skip
        col.assistant.change(column_versions, [session_state, col.assistant], col.version, api_visibility="private",
                             show_progress="hidden")  # fmt: skip
        col.prefer.click(compare_prefer, [session_state, number], p.notice,
                         api_name=None if index else "compare_prefer",
                         api_visibility="public" if index == 0 else "private")  # fmt: skip
        col.continue_.click(compare_continue, [session_state, number],
                            [session_state, mode, c.chatbot, s.instructions, s.model, p.notice],
                            api_name=None if index else "compare_continue",
                            api_visibility="public" if index == 0 else "private", cancels=streams,
                            ).then(keep_continued, [session_state, s.instructions, s.model, s.temperature, s.max_tokens],
                                   [browser, s.recent], **quick)  # fmt: skip
        col.remove.click(remove_column, [session_state, number], layout_outputs,
                         api_name=None if index else "compare_remove_column",
                         api_visibility="public" if index == 0 else "private", cancels=streams)  # fmt: skip
    for event in streams:
        event.then(after_compare, session_state, layout_outputs, **quick)
    p.stop.click(compare_stop, session_state, layout_outputs, cancels=streams, api_name="compare_stop")
    p.clear.click(compare_clear, session_state, layout_outputs, cancels=streams, api_name="compare_clear")
    p.add.click(add_column, session_state, layout_outputs, api_name="compare_add_column").then(**versions)
