"""The Playground's chat: plain async functions of values and the StudioContext, which tests call directly.

Each chat action yields (or returns) a ChatView: the conversation, and what the page around it should show.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.schemas import MarketplaceItem
from studio import pricing
from studio.answering import LogContext, Outcome, stream_answer
from studio.choices import Choices
from studio.conversation import AssistantProfile, ChatInputError, ChatParameters, ChatSession, Turn
from studio.errors import describe_error
from studio.picker import BLANK, PickerKey, PickerKeyError
from studio.variables import VariableError
from ui.context import StudioContext, require_editable
from ui.theme import escape_md

MARKET_PICKER_LIMIT = 500  # the whole marketplace, up to this many; a name typed is searched beyond it
MARKET_PAGE = 100
LOADING_NOTICE = "Loading the local model, first answer takes a few seconds…"


@dataclass
class ChatView:
    """What a chat action leaves on the page."""

    conversation: ChatSession
    draft: str | None = None  # the message box; None leaves it as it is
    error: str = ""  # the error box near the input; "" hides it
    cost: str | None = None  # the line beside the input; None leaves it as it is


@dataclass
class OpenView:
    """The page after opening an assistant (or a version of one)."""

    conversation: ChatSession
    choices: Choices
    key: str  # the picker's value
    instructions: str
    summary: str  # markdown about the assistant
    can_save: bool  # whether "Save instructions to assistant" is offered
    error: str = ""
    cost: str = ""


def cost_line(conversation: ChatSession, choices: Choices, params: ChatParameters, instructions: str) -> str:
    """E.g. "Sending costs 1 token (gpt-5-nano) · balance 99,870 tokens"."""
    model = effective_model(conversation, choices, params)
    parts = [f"Sending costs {choices.price(model)} ({escape_md(model)})"]
    parts.append(
        f"balance {pricing.tokens(choices.balance)}" if choices.balance is not None else "balance unknown"
    )
    profile = conversation.assistant
    if profile.kind == "mine" and profile.instructions_edited(instructions):
        parts.append("edited instructions are sent as system text")
    elif profile.kind == "mine" and not profile.live:
        parts.append(f"version {profile.version} is sent as system text")
    engine = choices.engine_for(model)
    if engine is not None:
        parts.append(f"the local server answers with its {escape_md(engine.get('engine'))} engine")
    return " · ".join(parts)


def effective_model(conversation: ChatSession, choices: Choices, params: ChatParameters) -> str:
    """The model the next message goes to."""
    return params.model or conversation.assistant.model or choices.default_model


def engine_notice(info: dict[str, Any], model: str) -> str | None:
    """LOADING_NOTICE if the engine serving `model` has not loaded yet, "" if it is ready, None if unknown."""
    engine = Choices(engines=info).engine_for(model)
    if engine is None:
        return None
    return LOADING_NOTICE if engine.get("state") in ("not_loaded", "loading") else ""


def describe_assistant(profile: AssistantProfile) -> str:
    """Who the conversation is with, as markdown."""
    kinds = {
        "mine": "my assistant",
        "market": "marketplace, tried without copying",
        "template": "template, tried without creating it",
        "blank": "type its instructions",
    }
    kind = kinds[profile.kind]
    if profile.kind == "mine" and profile.version is not None:
        kind += f" · version {profile.version}" + ("" if profile.live else " (older, not restored)")
    head = f"**{escape_md(profile.name)}** · {escape_md(profile.model or 'pick a model')} · {kind}"
    return f"{head}\n\n{escape_md(profile.description)}" if profile.description else head


# --- Loading -------------------------------------------------------------------------------------------


async def refresh(ctx: StudioContext, choices: Choices | None = None) -> Choices:
    """My assistants, the marketplace, the models, the balance and the engines; failures are reported.

    Given `choices`, they are filled in place: a conversation begun before the tab was ever opened (another
    tab, or the API) shares that object with the page.
    """
    choices = choices if choices is not None else Choices()
    choices.models, choices.mine, choices.market, choices.problem = {}, {}, {}, ""
    try:
        choices.models = {
            m.slug: m.token_cost for m in await ctx.client.models.list() if m.category == "text"
        }
        choices.balance = (await ctx.client.balance()).token_balance
        for assistant in await ctx.library.list_all():
            choices.add_mine(assistant.id, assistant.name, assistant.model)
        page, pages = 1, 1
        while page <= pages and len(choices.market) < MARKET_PICKER_LIMIT:
            found = await ctx.client.marketplace.list(page=page, limit=MARKET_PAGE)
            for item in found.items:
                choices.add_market(item.model_dump())
            page, pages = page + 1, found.pages
        choices.engines = await ctx.client.server_info()
    except Exception as err:  # the tab must open even when the server is down; the box says why
        choices.problem = describe_error(err)
    return choices


async def open_assistant(
    ctx: StudioContext, conversation: ChatSession, choices: Choices, key: str
) -> OpenView:
    """Open a picker key ("blank", "mine:<id>", "market:<id or name>") or a name typed into the picker;
    the conversation starts over."""
    if not choices.models:
        await refresh(ctx, choices)
    try:
        profile = await _profile_for(ctx, choices, key)
    except Exception as err:  # the current conversation stays as it was
        return _open_view(conversation, choices, describe_error(err))
    conversation.open(profile)
    return _open_view(conversation, choices, "")


async def open_requested(
    ctx: StudioContext, conversation: ChatSession, choices: Choices, request: dict[str, Any] | None
) -> OpenView:
    """Open what another tab asked for through ui.context.open_request."""
    request = request or {}
    kind = request.get("kind")
    if kind in ("market", "template") and isinstance(request.get("item"), dict):
        item = MarketplaceItem.model_validate(request["item"])
        if not choices.models:
            await refresh(ctx, choices)
        choices.add_market(item.model_dump())
        profile = AssistantProfile.from_market_item(item, choices.default_model, kind=kind)
        conversation.open(profile)
        return _open_view(conversation, choices, "")
    if kind == "mine" and request.get("assistant_id"):
        return await open_assistant(ctx, conversation, choices, str(PickerKey.mine(request["assistant_id"])))
    return await open_assistant(ctx, conversation, choices, str(BLANK))


async def open_version(
    ctx: StudioContext, conversation: ChatSession, choices: Choices, ref: str | int | None
) -> OpenView:
    """Chat with a version of my assistant (by number or label) without restoring it; "" is the current one."""
    profile = conversation.assistant
    try:
        if profile.kind != "mine" or not profile.assistant_id:
            raise ChatInputError("Versions belong to your own assistants: pick one of them first.")
        if ref in (None, "", "current"):
            return await open_assistant(ctx, conversation, choices, profile.key)
        version = await ctx.library.version(profile.assistant_id, ref)
        current = await ctx.library.latest_version(profile.assistant_id)
        live = current is not None and current.number == version.number
        base = AssistantProfile.from_assistant(await ctx.library.get(profile.assistant_id))
    except Exception as err:
        return _open_view(conversation, choices, describe_error(err))
    conversation.open(base.at_version(version.number, version.fields, live=live))
    return _open_view(conversation, choices, "")


async def _profile_for(ctx: StudioContext, choices: Choices, key: str) -> AssistantProfile:
    try:
        parsed = PickerKey.parse(key)
    except PickerKeyError:
        return await _find_by_name(ctx, choices, (key or "").strip())
    if parsed.kind == "mine":
        assistant = await ctx.library.get(parsed.ident)
        choices.add_mine(assistant.id, assistant.name, assistant.model)
        return AssistantProfile.from_assistant(assistant, await _current_version(ctx, assistant.id))
    if parsed.kind == "market":
        item = choices.market.get(str(parsed)) or await _search_market(ctx, parsed.ident)
        return AssistantProfile.from_market_item(MarketplaceItem.model_validate(item), choices.default_model)
    return AssistantProfile(model=choices.default_model)


async def _current_version(ctx: StudioContext, assistant_id: str) -> int | None:
    """The store's number for the assistant as it is now; None when the store cannot say."""
    try:
        latest = await ctx.library.latest_version(assistant_id)
    except Exception:  # the store is down: the chat works without a version number
        return None
    return latest.number if latest else None


async def _find_by_name(ctx: StudioContext, choices: Choices, name: str) -> AssistantProfile:
    """What a person typed into the picker: one of my assistants by name, else a marketplace search."""
    wanted = name.casefold()
    for key, label in choices.mine.items():
        if label.split(" · ")[0].casefold() == wanted:
            return await _profile_for(ctx, choices, key)
    item = await _search_market(ctx, name)
    choices.add_market(item)
    return AssistantProfile.from_market_item(MarketplaceItem.model_validate(item), choices.default_model)


async def _search_market(ctx: StudioContext, words: str) -> dict[str, Any]:
    """A marketplace item by id or name, else the best match of a search for the words."""
    found = (await ctx.client.marketplace.list(q=words, limit=20)).items if words else []
    for item in found:
        if words in (item.id, item.name) or item.name.casefold() == words.casefold():
            return item.model_dump()
    if found:
        return found[0].model_dump()
    raise ChatInputError(
        f"No assistant is called “{words}”, mine or in the marketplace: choose one from the list, "
        "or type other words."
    )


def _open_view(conversation: ChatSession, choices: Choices, error: str) -> OpenView:
    profile = conversation.assistant
    return OpenView(
        conversation=conversation,
        choices=choices,
        key=profile.key,
        instructions=profile.instructions,
        summary=describe_assistant(profile),
        can_save=profile.kind == "mine",
        error=error,
        cost=cost_line(conversation, choices, ChatParameters(), profile.instructions),
    )


# --- Chatting ------------------------------------------------------------------------------------------


def chat(
    ctx: StudioContext,
    conversation: ChatSession,
    choices: Choices,
    message: str,
    instructions: str,
    params: ChatParameters,
) -> AsyncGenerator[ChatView, None]:
    """Send a message with the whole history and stream the answer; the input empties, refilled on failure.

    Nothing is sent (and the message stays in the box) while an answer streams, or while a variable of the
    instructions is empty or malformed.
    """
    try:
        args = conversation.request_arguments(instructions, params, choices.default_model)
        turn = conversation.add_user_turn(message)
    except (ChatInputError, VariableError) as err:
        return _refused(ChatView(conversation, draft=message, error=str(err)))
    return _answer(ctx, conversation, choices, turn, args, instructions, params, clear_draft=True)


def regenerate(
    ctx: StudioContext, conversation: ChatSession, choices: Choices, instructions: str, params: ChatParameters
) -> AsyncGenerator[ChatView, None]:
    """Ask the last question again (Regenerate, and Retry after a failure, which takes the message back)."""
    was_failed = conversation.last_failed
    try:
        args = conversation.request_arguments(instructions, params, choices.default_model)
        turn = conversation.regenerate()
    except (ChatInputError, VariableError) as err:
        return _refused(ChatView(conversation, error=str(err)))
    return _answer(ctx, conversation, choices, turn, args, instructions, params, clear_draft=was_failed)


def edit_message(
    ctx: StudioContext,
    conversation: ChatSession,
    choices: Choices,
    number: float | None,
    text: str,
    instructions: str,
    params: ChatParameters,
) -> AsyncGenerator[ChatView, None]:
    """Change sent message `number` (1 is the first): what came after it is dropped and it is asked again."""
    try:
        if number is None or int(number) != number:
            raise ChatInputError("Give the number of the message to edit: 1 is the first one you sent.")
        args = conversation.request_arguments(instructions, params, choices.default_model)
        turn = conversation.edit(int(number) - 1, text)
    except (ChatInputError, VariableError) as err:
        return _refused(ChatView(conversation, error=str(err)))
    return _answer(ctx, conversation, choices, turn, args, instructions, params, clear_draft=False)


async def _refused(view: ChatView) -> AsyncGenerator[ChatView, None]:
    """A chat action that was refused before anything was sent, as the one view it shows."""
    yield view


async def _answer(
    ctx: StudioContext,
    conversation: ChatSession,
    choices: Choices,
    turn: Turn,
    args: dict[str, Any],
    instructions: str,
    params: ChatParameters,
    *,
    clear_draft: bool,
) -> AsyncGenerator[ChatView, None]:
    """Stream the answer of the last turn; leaving early (Stop, a closed tab) closes the HTTP stream."""
    yield ChatView(conversation, draft="" if clear_draft else None)
    if not choices.models:
        await refresh(ctx, choices)  # the prices and the balance, for the line beside the input
    model = effective_model(conversation, choices, params)
    if not choices.engine_ready:
        turn.notice = await _loading_notice(ctx, choices, model)
        if turn.notice:
            yield ChatView(conversation)
    outcome = Outcome()
    answer = stream_answer(
        ctx.client, conversation, turn, args, model=model, outcome=outcome,
        log=ctx.log_generation, log_context=LogContext(ctx.server_key, "playground"),
    )  # fmt: skip
    async with aclosing(answer):  # leaving early closes the answer's stream at once, not when collected
        async for _ in answer:
            yield ChatView(conversation)
    if turn.status == "failed":
        cost = cost_line(conversation, choices, params, instructions)
        yield ChatView(conversation, draft=turn.user, error=turn.error, cost=cost)
        return
    if turn.status == "stopped":
        # The stream may still be drawing after Stop drew its own frame: its last frame shows the mark too.
        yield ChatView(conversation)
        return
    choices.engine_ready = True
    if outcome.end is not None and outcome.end.balance_remaining is not None:
        choices.balance = outcome.end.balance_remaining
    yield ChatView(conversation, cost=cost_line(conversation, choices, params, instructions))


async def _loading_notice(ctx: StudioContext, choices: Choices, model: str) -> str:
    """LOADING_NOTICE while the local model has yet to load; "" if it is ready or the server does not say."""
    try:
        notice = engine_notice(await ctx.client.server_info(), model)
    except Exception:  # the engines report is a courtesy: the answer itself will say what is wrong
        return ""
    choices.engine_ready = notice is None or notice == ""
    return notice or ""


def stop(conversation: ChatSession) -> ChatView:
    """End the answer on its way, keeping its partial text marked as stopped."""
    conversation.stop()
    return ChatView(conversation)


def undo(conversation: ChatSession, unsent: str = "") -> ChatView:
    """Remove the last turn; its message goes back into the input to be changed and sent again, unless the
    input holds text not sent yet, which is never overwritten."""
    if not conversation.turns:
        return ChatView(conversation, error="There is nothing to undo yet.")
    undone = conversation.undo()
    if unsent.strip():
        return ChatView(
            conversation,
            error=f"Your unsent text stays in the box, so the undone message did not go back into it: “{undone}”.",
        )
    return ChatView(conversation, draft=undone)


def clear(conversation: ChatSession) -> ChatView:
    """Start the conversation over with the same assistant."""
    conversation.clear()
    return ChatView(conversation, draft="")


# --- Instructions and exports ----------------------------------------------------------------------------


async def save_instructions(
    ctx: StudioContext, conversation: ChatSession, instructions: str, note: str = ""
) -> tuple[str, str]:
    """Save the edited instructions to my assistant, as a new version; returns (note, error)."""
    profile = conversation.assistant
    try:
        require_editable(ctx)
        if profile.kind != "mine" or not profile.assistant_id:
            raise ChatInputError(
                "Only your own assistants can be saved: copy this one in the Marketplace tab first."
            )
        saved = await ctx.library.update(
            profile.assistant_id, instructions=instructions, source="playground", note=note.strip()
        )
    except Exception as err:
        return "", describe_error(err)
    profile.instructions = saved.assistant.instructions
    profile.live = True
    if saved.version is not None:
        profile.version = saved.version.number
    done = f"Saved to “{escape_md(saved.assistant.name)}”: new chats use these instructions."
    return saved.notice(done), ""


def reset_instructions(conversation: ChatSession) -> str:
    """The saved instructions (or the version's), to undo an edit in the box."""
    return conversation.assistant.instructions


def export_markdown(conversation: ChatSession, instructions: str, params: ChatParameters) -> str:
    """Write the conversation as a Markdown file; returns its path."""
    return _write(conversation, "md", conversation.to_markdown(instructions, params))


def export_json(conversation: ChatSession, instructions: str, params: ChatParameters) -> str:
    """Write the conversation as the studio's JSON export; returns its path."""
    return _write(conversation, "json", conversation.to_json(instructions, params))


def _write(conversation: ChatSession, suffix: str, text: str) -> str:
    """A fresh folder per export, so two downloads never overwrite each other."""
    slug = "".join(c if c.isalnum() else "-" for c in conversation.assistant.name.lower()).strip("-")[:40]
    path = (
        Path(tempfile.mkdtemp(prefix="playground-export-")) / f"conversation-{slug or 'assistant'}.{suffix}"
    )
    path.write_text(text, encoding="utf-8")
    return str(path)
