"""The Playground's actions: plain async functions of values and the StudioContext, which tests call directly.

Each chat action yields (or returns) a ChatView: the conversation, and what the page around it should show.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.schemas import ContentDelta, GenerationEnd, GenerationStart, MarketplaceItem, Queued
from ui.chat_session import AssistantProfile, ChatInputError, ChatParameters, ChatSession, Turn, TurnStats
from ui.context import StudioContext, require_editable
from ui.errors import describe_error
from ui.theme import escape_md

DEFAULT_MODEL = "gpt-5-nano"  # the cheapest text model of the docs' price list, if the server lists none
MARKET_PICKER_LIMIT = 50  # one page of the marketplace in the picker; the Marketplace tab has them all
LOADING_NOTICE = "Loading the local model, first answer takes a few seconds…"
BLANK_KEY = "blank"


@dataclass
class Catalog:
    """What the pickers offer and the account's balance; refreshed whenever the tab is opened."""

    models: dict[str, int] = field(default_factory=dict)  # slug -> token cost, in the server's order
    mine: dict[str, str] = field(default_factory=dict)  # picker key -> label
    market: dict[str, dict[str, Any]] = field(default_factory=dict)  # picker key -> marketplace item
    balance: int | None = None
    engine_ready: bool = False
    problem: str = ""  # why a list could not be loaded

    @property
    def default_model(self) -> str:
        return next(iter(self.models), DEFAULT_MODEL)

    def picker_choices(self) -> list[tuple[str, str]]:
        """(label, key) for the assistant picker: blank, then mine, then the marketplace."""
        choices = [("Blank assistant (type instructions)", BLANK_KEY)]
        choices += [(label, key) for key, label in self.mine.items()]
        choices += [(f"Marketplace · {item.get('name', '')}", key) for key, item in self.market.items()]
        return choices

    def model_choices(self) -> list[tuple[str, str]]:
        """(label, slug) for the model override, each with its price; "" keeps the assistant's model."""
        priced = [
            (f"{slug} · {cost} token{'' if cost == 1 else 's'}/request", slug)
            for slug, cost in self.models.items()
        ]
        return [("The assistant's own model", ""), *priced]


@dataclass
class ChatView:
    """What a chat action leaves on the page."""

    conversation: ChatSession
    draft: str | None = None  # the message box; None leaves it as it is
    error: str = ""  # the error box near the input; "" hides it
    cost: str | None = None  # the line beside the input; None leaves it as it is


@dataclass
class OpenView:
    """The page after opening an assistant."""

    conversation: ChatSession
    catalog: Catalog
    key: str  # the picker's value
    instructions: str
    summary: str  # markdown about the assistant
    can_save: bool  # whether "Save instructions to assistant" is offered
    error: str = ""
    cost: str = ""


def explain(err: BaseException) -> str:
    """The message for a failed action: our own refusals as they are, anything else through describe_error."""
    return str(err) if isinstance(err, ChatInputError) else describe_error(err)


def effective_model(conversation: ChatSession, catalog: Catalog, params: ChatParameters) -> str:
    """The model the next message goes to."""
    return params.model or conversation.assistant.model or catalog.default_model


def cost_line(conversation: ChatSession, catalog: Catalog, params: ChatParameters, instructions: str) -> str:
    """E.g. "Sending costs 1 token (gpt-5-nano) · balance 99,870 tokens"."""
    model = effective_model(conversation, catalog, params)
    cost = catalog.models.get(model)
    price = f"{cost} token{'' if cost == 1 else 's'}" if cost is not None else "an unknown number of tokens"
    parts = [f"Sending costs {price} ({escape_md(model)})"]
    parts.append(f"balance {catalog.balance:,} tokens" if catalog.balance is not None else "balance unknown")
    if conversation.assistant.kind == "mine" and conversation.assistant.instructions_edited(instructions):
        parts.append("edited instructions are sent as system text")
    return " · ".join(parts)


def engine_notice(info: dict[str, Any], model: str) -> str | None:
    """LOADING_NOTICE if the engine serving `model` has not loaded yet, "" if it is ready, None if unknown."""
    engines = [e for e in info.get("engines") or [] if isinstance(e, dict)]
    if not engines:
        return None
    routes = info.get("routes") if isinstance(info.get("routes"), dict) else {}
    name = routes.get(model, routes.get("*"))
    serving = [e for e in engines if e.get("engine") == name] or engines
    return LOADING_NOTICE if any(e.get("state") in ("not_loaded", "loading") for e in serving) else ""


def describe_assistant(profile: AssistantProfile) -> str:
    """Who the conversation is with, as markdown."""
    kinds = {
        "mine": "my assistant",
        "market": "marketplace, tried without copying",
        "blank": "type its instructions below",
    }
    model = escape_md(profile.model or "pick a model")
    head = f"**{escape_md(profile.name)}** · {model} · {kinds[profile.kind]}"
    return f"{head}\n\n{escape_md(profile.description)}" if profile.description else head


# --- Loading -------------------------------------------------------------------------------------------


async def refresh(ctx: StudioContext, catalog: Catalog | None = None) -> Catalog:
    """My assistants, a marketplace page, the models and the balance; failures are reported, not raised.

    Given a catalog, it is filled in place: a conversation begun before the tab was ever opened (another
    tab, or the API) shares that object with the page.
    """
    catalog = catalog if catalog is not None else Catalog()
    catalog.models, catalog.mine, catalog.market, catalog.problem = {}, {}, {}, ""
    try:
        catalog.models = {
            m.slug: m.token_cost for m in await ctx.client.models.list() if m.category == "text"
        }
        catalog.balance = (await ctx.client.balance()).token_balance
        for assistant in await ctx.client.assistants.list_all():
            catalog.mine[f"mine:{assistant.id}"] = f"{assistant.name} · {assistant.model}"
        for item in (await ctx.client.marketplace.list(limit=MARKET_PICKER_LIMIT)).items:
            catalog.market[f"market:{item.id or item.name}"] = item.model_dump()
    except Exception as err:  # the tab must open even when the server is down; the box says why
        catalog.problem = describe_error(err)
    return catalog


async def open_assistant(
    ctx: StudioContext, conversation: ChatSession, catalog: Catalog, key: str
) -> OpenView:
    """Open "blank", "mine:<id>" or "market:<id or name>" from the picker; the conversation starts over."""
    key = (key or BLANK_KEY).strip()
    if not catalog.models:
        await refresh(ctx, catalog)
    try:
        if key.startswith("mine:"):
            profile = AssistantProfile.from_assistant(
                await ctx.client.assistants.get(key.removeprefix("mine:"))
            )
            catalog.mine.setdefault(key, f"{profile.name} · {profile.model}")
        elif key.startswith("market:"):
            item = catalog.market.get(key) or await _find_market_item(ctx, key.removeprefix("market:"))
            profile = AssistantProfile.from_market_item(
                MarketplaceItem.model_validate(item), catalog.default_model
            )
        elif key == BLANK_KEY:
            profile = AssistantProfile(model=catalog.default_model)
        else:
            raise ChatInputError(f"“{key}” is not an assistant of the picker: choose one from the list.")
    except Exception as err:  # the current conversation stays as it was
        return _open_view(conversation, catalog, explain(err))
    conversation.open(profile)
    return _open_view(conversation, catalog, "")


async def open_requested(
    ctx: StudioContext, conversation: ChatSession, catalog: Catalog, request: dict[str, Any] | None
) -> OpenView:
    """Open what another tab asked for through ui.context.open_request."""
    request = request or {}
    kind = request.get("kind")
    if kind == "market" and isinstance(request.get("item"), dict):
        item = MarketplaceItem.model_validate(request["item"])
        key = f"market:{item.id or item.name}"
        catalog.market[key] = item.model_dump()
        return await open_assistant(ctx, conversation, catalog, key)
    if kind == "mine" and request.get("assistant_id"):
        return await open_assistant(ctx, conversation, catalog, f"mine:{request['assistant_id']}")
    return await open_assistant(ctx, conversation, catalog, BLANK_KEY)


async def _find_market_item(ctx: StudioContext, ident: str) -> dict[str, Any]:
    """A marketplace item not on the picker's page, found by searching for it."""
    for item in (await ctx.client.marketplace.list(q=ident, limit=MARKET_PICKER_LIMIT)).items:
        if ident in (item.id, item.name):
            return item.model_dump()
    raise ChatInputError(
        f"The marketplace has no assistant “{ident}” any more: refresh the list and pick another."
    )


def _open_view(conversation: ChatSession, catalog: Catalog, error: str) -> OpenView:
    profile = conversation.assistant
    return OpenView(
        conversation=conversation,
        catalog=catalog,
        key=profile.key,
        instructions=profile.instructions,
        summary=describe_assistant(profile),
        can_save=profile.kind == "mine",
        error=error,
        cost=cost_line(conversation, catalog, ChatParameters(), profile.instructions),
    )


# --- Chatting ------------------------------------------------------------------------------------------


def chat(
    ctx: StudioContext,
    conversation: ChatSession,
    catalog: Catalog,
    message: str,
    instructions: str,
    params: ChatParameters,
) -> AsyncGenerator[ChatView, None]:
    """Send a message with the whole history and stream the answer; the input empties, refilled on failure."""
    try:
        turn = conversation.add_user_turn(message)
    except ChatInputError as err:
        return _refused(ChatView(conversation, draft=message, error=str(err)))
    return _answer(ctx, conversation, catalog, turn, instructions, params, clear_draft=True)


def regenerate(
    ctx: StudioContext, conversation: ChatSession, catalog: Catalog, instructions: str, params: ChatParameters
) -> AsyncGenerator[ChatView, None]:
    """Ask the last question again (Regenerate, and Retry after a failure, which takes the message back)."""
    was_failed = conversation.last_failed
    try:
        turn = conversation.regenerate()
    except ChatInputError as err:
        return _refused(ChatView(conversation, error=str(err)))
    return _answer(ctx, conversation, catalog, turn, instructions, params, clear_draft=was_failed)


def edit_message(
    ctx: StudioContext,
    conversation: ChatSession,
    catalog: Catalog,
    number: float | None,
    text: str,
    instructions: str,
    params: ChatParameters,
) -> AsyncGenerator[ChatView, None]:
    """Change sent message `number` (1 is the first): what came after it is dropped and it is asked again."""
    try:
        if number is None or int(number) != number:
            raise ChatInputError("Give the number of the message to edit: 1 is the first one you sent.")
        turn = conversation.edit(int(number) - 1, text)
    except ChatInputError as err:
        return _refused(ChatView(conversation, error=str(err)))
    return _answer(ctx, conversation, catalog, turn, instructions, params, clear_draft=False)


# Deltas are shown at most this often (the first at once, the last always): smooth to the eye, while each
# update costs the server a few milliseconds of Gradio's work, which 50 chatting browsers multiply.
FRAME_SECONDS = 0.04


async def _refused(view: ChatView) -> AsyncGenerator[ChatView, None]:
    """A chat action that was refused before anything was sent, as the one view it shows."""
    yield view


async def _answer(
    ctx: StudioContext,
    conversation: ChatSession,
    catalog: Catalog,
    turn: Turn,
    instructions: str,
    params: ChatParameters,
    *,
    clear_draft: bool,
) -> AsyncGenerator[ChatView, None]:
    """Stream the answer of the last turn; leaving early (Stop, a closed tab) closes the HTTP stream."""
    yield ChatView(conversation, draft="" if clear_draft else None)
    if not catalog.models:
        await refresh(ctx, catalog)  # the prices and the balance, for the line beside the input
    model = effective_model(conversation, catalog, params)
    messages = conversation.to_api_messages()
    args = conversation.request_arguments(instructions, params, catalog.default_model)
    if not catalog.engine_ready:
        turn.notice = await _loading_notice(ctx, catalog, model)
        if turn.notice:
            yield ChatView(conversation)
    started = time.perf_counter()
    shown = started
    first: float | None = None
    end: GenerationEnd | None = None

    def measured() -> TurnStats:
        tokens = end.tokens_used if end else 0  # nothing is charged for an answer left before its end
        return TurnStats(
            model=model, tokens_used=tokens, first_token_s=first, total_s=time.perf_counter() - started
        )

    try:
        async with ctx.client.generate_stream(messages, **args) as stream:
            async for event in stream:
                if not turn.in_flight:
                    break  # stopped: leaving the block closes the stream, which frees the model
                if isinstance(event, Queued):
                    turn.notice = f"Waiting for the model (position {event.position})…"
                elif isinstance(event, GenerationStart):
                    model = event.model or model
                    continue
                elif isinstance(event, ContentDelta):
                    turn.append(event.delta)
                    now = time.perf_counter()
                    if first is not None and now - shown < FRAME_SECONDS:
                        continue  # shown with the next frame, or the final view
                    first = now - started if first is None else first
                    shown = now
                elif isinstance(event, GenerationEnd):
                    end = event
                    continue
                yield ChatView(conversation)
        conversation.finish(turn, measured())
    except Exception as err:  # any failure: the question stays, marked unanswered, and its text goes back
        if turn.status == "stopped":
            return  # the person stopped it first; what broke afterwards is no news to them
        error = explain(err)
        conversation.fail(turn, error, partial=getattr(err, "partial", "") or turn.answer)
        yield ChatView(
            conversation,
            draft=turn.user,
            error=error,
            cost=cost_line(conversation, catalog, params, instructions),
        )
        return
    finally:
        turn.halt(measured())  # a no-op unless the answer ended early: cancelled, closed or stopped
    catalog.engine_ready = True
    if end is not None and end.balance_remaining is not None:
        catalog.balance = end.balance_remaining
    yield ChatView(conversation, cost=cost_line(conversation, catalog, params, instructions))


async def _loading_notice(ctx: StudioContext, catalog: Catalog, model: str) -> str:
    """LOADING_NOTICE while the local model has yet to load; "" if it is ready or the server does not say."""
    try:
        notice = engine_notice(await ctx.client.server_info(), model)
    except Exception:  # the engines report is a courtesy: the answer itself will say what is wrong
        return ""
    catalog.engine_ready = notice is None or notice == ""
    return notice or ""


def stop(conversation: ChatSession) -> ChatView:
    """End the answer on its way, keeping its partial text marked as stopped."""
    conversation.stop()
    return ChatView(conversation)


def undo(conversation: ChatSession) -> ChatView:
    """Remove the last turn; its message goes back into the input to be changed and sent again."""
    if not conversation.turns:
        return ChatView(conversation, error="There is nothing to undo yet.")
    return ChatView(conversation, draft=conversation.undo())


def clear(conversation: ChatSession) -> ChatView:
    """Start the conversation over with the same assistant."""
    conversation.clear()
    return ChatView(conversation, draft="")


# --- Instructions and exports ----------------------------------------------------------------------------


async def save_instructions(
    ctx: StudioContext, conversation: ChatSession, instructions: str
) -> tuple[str, str]:
    """Save the edited instructions to my assistant; returns (note, error)."""
    profile = conversation.assistant
    try:
        require_editable(ctx)
        if profile.kind != "mine" or not profile.assistant_id:
            raise ChatInputError(
                "Only your own assistants can be saved: copy this one in the Marketplace tab first."
            )
        saved = await ctx.client.assistants.update(profile.assistant_id, instructions=instructions)
    except Exception as err:
        return "", explain(err)
    profile.instructions = saved.instructions
    return f"Saved to “{escape_md(saved.name)}”: new chats use these instructions.", ""


def reset_instructions(conversation: ChatSession) -> str:
    """The saved instructions, to undo an edit in the box."""
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
