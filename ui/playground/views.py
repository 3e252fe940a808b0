"""The Playground's values turned into components: the variables form, the Version picker, the pickers'
choices, a stream's frames and the status shown after it. Shared by the chat's and Compare's events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from studio import variables
from studio.conversation import AssistantProfile, ChatParameters
from studio.errors import describe_error
from ui.assistants_io import humanize_time
from ui.chat_display import chat_messages
from ui.context import StudioContext
from ui.playground import chat as handlers
from ui.playground import saved as keeping
from ui.playground.layout import CURRENT_VERSION, error_box
from ui.playground.session import MAX_VARIABLES, PlaygroundSession
from ui.theme import escape_md

VERSION_CHOICES = 100  # the newest versions offered in the picker; any number or label can be typed


def parameters(model: str | None, temperature: float | None, max_tokens: float | None) -> ChatParameters:
    return ChatParameters.from_fields(model, temperature, max_tokens)


def variable_fields(session: PlaygroundSession, instructions: str) -> list[Any]:
    """The variables form for the instructions: a field per variable, in order, with the values typed
    for this assistant; then a notice (malformed placeholders, too many variables) and the JSON copy."""
    text = session.chat.assistant.effective_instructions(instructions)
    found = variables.scan(text)
    session.fields = list(found.names[:MAX_VARIABLES])
    values = session.values()
    session.chat.variables = dict(values)
    updates = [
        gr.Textbox(visible=True, label=f"{{{{{name}}}}}", value=values.get(name, ""))
        if i < len(session.fields)
        else gr.Textbox(visible=False, value="")
        for i, name in enumerate(session.fields + [""] * (MAX_VARIABLES - len(session.fields)))
    ]
    notes = []
    if found.malformed:
        notes.append(variables.problems(text, {name: "x" for name in found.names}))
    if len(found.names) > MAX_VARIABLES:
        extra = ", ".join(found.names[MAX_VARIABLES:])
        notes.append(f"Only {MAX_VARIABLES} variables have fields here; give {extra} through the API.")
    notice = gr.Markdown(escape_md(" ".join(notes)) if notes else "", visible=bool(notes))
    return [*updates, notice, {name: values.get(name, "") for name in found.names}]


@dataclass(frozen=True)
class VersionOffer:
    """What a Version picker offers. (A gr.Dropdown made inside an event carries only what it was given, so
    the offer is kept as data and a picker made from it for each place that shows it.)"""

    choices: list[tuple[str, str]]
    value: str = CURRENT_VERSION
    interactive: bool = False
    info: str | None = None

    def picker(self, chosen: str | None = None) -> gr.Dropdown:
        """The picker showing `chosen` if it is offered, else the offer's own value."""
        value = chosen if chosen in {key for _, key in self.choices} else self.value
        return gr.Dropdown(choices=self.choices, value=value, interactive=self.interactive, info=self.info)


async def version_offer(ctx: StudioContext, profile: AssistantProfile) -> VersionOffer:
    """The versions of the open assistant: as saved now, then its newest versions."""
    current = [("As saved now", CURRENT_VERSION)]
    if profile.kind != "mine" or not profile.assistant_id:
        return VersionOffer(current)
    try:
        page = await ctx.library.history(profile.assistant_id)
    except Exception as err:  # the store is down: chatting goes on, without older versions
        return VersionOffer(current, info=describe_error(err))
    listed = [
        (" · ".join([f"v{v.number}", *v.labels, humanize_time_ms(v.created_ms), v.source]), str(v.number))
        for v in page.versions[:VERSION_CHOICES]
    ]
    if (
        not profile.live
        and profile.version is not None
        and str(profile.version) not in {k for _, k in listed}
    ):
        listed.append((f"v{profile.version}", str(profile.version)))
    value = CURRENT_VERSION if profile.live else str(profile.version)
    return VersionOffer(current + listed, value, interactive=True)


async def version_choices(ctx: StudioContext, profile: AssistantProfile) -> gr.Dropdown:
    """The Version picker for the open assistant."""
    return (await version_offer(ctx, profile)).picker()


def humanize_time_ms(ms: int) -> str:
    from datetime import UTC, datetime

    return humanize_time(datetime.fromtimestamp(ms / 1000, UTC).isoformat())


def picker_choices(session: PlaygroundSession) -> list[tuple[str, str]]:
    """The picker's choices, always including the assistant that is open."""
    choices = session.choices.picker_choices()
    current = session.chat.assistant
    if current.key not in {key for _, key in choices}:
        choices.append((current.name, current.key))
    return choices


def kept_copy(
    ctx: StudioContext, session: PlaygroundSession, instructions: str | None, params: ChatParameters
) -> tuple[Any, gr.Dropdown]:
    """The browser's new copy of the conversations (gr.skip() when it does not change) and the recent list."""
    document = keeping.keep(session, ctx.browser_fingerprint, instructions or "", params)
    return (gr.skip() if document is None else document), recent_list(session)


def recent_list(session: PlaygroundSession) -> gr.Dropdown:
    return gr.Dropdown(choices=session.saved.choices(), value=None)


def stream_frame(session: PlaygroundSession, view: handlers.ChatView) -> tuple[Any, ...]:
    """A chat view as a stream's outputs: the chat and the input. Gradio rebuilds a component for every
    property update (gr.skip() included) on every step, so a stream outputs only these; the session is
    changed in place (no output needed), and its last view is kept for the step after it (status_after)."""
    return chat_messages(view.conversation), gr.skip() if view.draft is None else view.draft


def status_after(session: PlaygroundSession) -> tuple[Any, Any, Any]:
    """The error, Retry and cost after a stream, from its last view."""
    view = (
        session.last_view
        if isinstance(session.last_view, handlers.ChatView)
        else handlers.ChatView(session.chat)
    )
    return (
        error_box(view.error),
        gr.Button(visible=session.chat.last_failed),
        gr.skip() if view.cost is None else view.cost,
    )


def hide_status() -> tuple[Any, Any]:
    """When a message goes out, the last problem and its Retry go away."""
    return error_box(""), gr.Button(visible=False)


def render_view(session: PlaygroundSession, view: handlers.ChatView) -> tuple[Any, ...]:
    """A one-shot chat action's view (Stop, Undo, Clear): chat, input, error, Retry, cost."""
    session.last_view = view
    return (*stream_frame(session, view), *status_after(session))
