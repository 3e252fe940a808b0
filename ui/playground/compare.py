"""The Playground's Compare mode: plain async functions of values and the StudioContext.

One message goes to every column at once; their answers stream side by side (studio.compare.merge), each
column failing, stopping or being regenerated on its own.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field

from studio import pricing
from studio.answering import LogContext, Outcome, stream_answer
from studio.choices import Choices
from studio.compare import MAX_COLUMNS, ColumnSpec, CompareColumn, CompareSession, merge
from studio.conversation import AssistantProfile, ChatInputError, ChatSession, Turn
from studio.errors import describe_error
from studio.variables import VariableError
from ui.context import StudioContext, require_editable
from ui.playground.chat import open_assistant, open_version, refresh


@dataclass
class CompareView:
    """What a Compare action leaves on the page."""

    compare: CompareSession
    draft: str | None = None  # the shared message box; None leaves it as it is
    error: str = ""  # the shared problem box; "" hides it
    cost: str | None = None  # the line beside the box; None leaves it as it is
    notices: list[str] = field(default_factory=list)  # per column: its last problem, or ""


def column_notices(compare: CompareSession) -> list[str]:
    """Each column's problem (its last answer failed), to show in that column."""
    notices = []
    for column in compare.columns:
        last = column.conversation.turns[-1] if column.conversation.turns else None
        notices.append(last.error if last is not None and last.status == "failed" else "")
    return notices


def turn_cost(compare: CompareSession, choices: Choices) -> str:
    """What the next message costs across every column, before it is sent."""
    total = 0
    unknown = []
    for column in compare.columns:
        model = column.spec.model or column.conversation.assistant.model or choices.default_model
        cost = choices.models.get(model)
        if cost is None:
            unknown.append(model)
        else:
            total += cost
    text = f"Sending to {len(compare.columns)} columns costs {pricing.tokens(total)}"
    if unknown:
        text += f" plus {', '.join(sorted(set(unknown)))} (price unknown)"
    balance = (
        f"balance {pricing.tokens(choices.balance)}" if choices.balance is not None else "balance unknown"
    )
    return f"{text} · {balance}"


# --- Setting the columns up ----------------------------------------------------------------------------


async def column_profile(
    ctx: StudioContext, choices: Choices, chat: ChatSession, spec: ColumnSpec
) -> AssistantProfile:
    """The assistant a column runs: the chat's (spec.key ""), or another, at the version asked for."""
    probe = ChatSession()
    if spec.key:
        opened = await open_assistant(ctx, probe, choices, spec.key)
        if opened.error:
            raise ChatInputError(opened.error)
    else:
        probe.assistant = chat.assistant
    if spec.version is not None:
        opened = await open_version(ctx, probe, choices, spec.version)
        if opened.error:
            raise ChatInputError(opened.error)
    return probe.assistant


async def set_column(
    ctx: StudioContext,
    compare: CompareSession,
    choices: Choices,
    chat: ChatSession,
    index: int,
    spec: ColumnSpec,
) -> CompareView:
    """Make column `index` (0-based) run `spec`; a new assistant or version starts its conversation over."""
    try:
        if not choices.models:
            await refresh(ctx, choices)
        if index == len(compare.columns) and index < MAX_COLUMNS:
            compare.add_column()
        column = compare.column(index)
        if column.conversation.busy:
            raise ChatInputError("That column is still answering: wait for it, or press Stop first.")
        changed = (spec.key, spec.version) != (column.spec.key, column.spec.version)
        if changed or not column.conversation.turns:
            column.conversation = ChatSession(assistant=await column_profile(ctx, choices, chat, spec))
        column.spec = spec
    except Exception as err:
        return CompareView(compare, error=describe_error(err), cost=turn_cost(compare, choices))
    return CompareView(compare, cost=turn_cost(compare, choices), notices=column_notices(compare))


async def start(
    ctx: StudioContext, compare: CompareSession, choices: Choices, chat: ChatSession
) -> CompareView:
    """Compare opens with two columns running the chat's assistant, ready to be changed."""
    for index, column in enumerate(compare.columns):
        if not column.conversation.turns:
            view = await set_column(ctx, compare, choices, chat, index, column.spec)
            if view.error:
                return view
    return CompareView(compare, cost=turn_cost(compare, choices), notices=column_notices(compare))


def add_column(compare: CompareSession, choices: Choices, chat: ChatSession) -> CompareView:
    """One more column (at most four), running the chat's assistant."""
    try:
        compare.add_column(CompareColumn(conversation=ChatSession(assistant=chat.assistant)))
    except ChatInputError as err:
        return CompareView(compare, error=str(err), cost=turn_cost(compare, choices))
    return CompareView(compare, cost=turn_cost(compare, choices), notices=column_notices(compare))


def remove_column(compare: CompareSession, choices: Choices, index: int) -> CompareView:
    try:
        compare.remove_column(index)
    except ChatInputError as err:
        return CompareView(compare, error=str(err), cost=turn_cost(compare, choices))
    return CompareView(compare, cost=turn_cost(compare, choices), notices=column_notices(compare))


# --- Sending --------------------------------------------------------------------------------------------


def send(
    ctx: StudioContext,
    compare: CompareSession,
    choices: Choices,
    message: str,
    variables: dict[str, str],
    chat: ChatSession | None = None,
) -> AsyncGenerator[CompareView, None]:
    """Send one message to every column; the answers stream side by side, at the same time.

    A column set to "the chat's assistant" that has not started yet follows the chat's current one.
    """
    if chat is not None:
        for column in compare.columns:
            if not column.spec.key and column.spec.version is None and not column.conversation.turns:
                column.conversation.assistant = chat.assistant
    try:
        plans = [_plan(column, choices, variables) for column in compare.columns]
        turns = compare.ask(message)
    except (ChatInputError, VariableError) as err:
        return _once(CompareView(compare, draft=message, error=str(err)))
    return _stream(ctx, compare, choices, list(zip(range(len(turns)), turns, plans, strict=True)), draft="")


def regenerate(
    ctx: StudioContext, compare: CompareSession, choices: Choices, index: int, variables: dict[str, str]
) -> AsyncGenerator[CompareView, None]:
    """Ask column `index` (0-based) its last question again, alone."""
    try:
        column = compare.column(int(index))
        plan = _plan(column, choices, variables)
        turn = column.conversation.regenerate()
    except (ChatInputError, VariableError, TypeError, ValueError) as err:
        return _once(CompareView(compare, error=describe_error(err)))
    return _stream(ctx, compare, choices, [(int(index), turn, plan)], draft=None)


def stop(compare: CompareSession, choices: Choices) -> CompareView:
    """Stop every column, keeping what each had said."""
    compare.stop()
    return CompareView(compare, cost=turn_cost(compare, choices), notices=column_notices(compare))


def clear(compare: CompareSession, choices: Choices) -> CompareView:
    compare.clear()
    return CompareView(compare, draft="", cost=turn_cost(compare, choices), notices=column_notices(compare))


def _plan(column: CompareColumn, choices: Choices, variables: dict[str, str]) -> tuple[dict, str]:
    """The column's request arguments and model, checked before anything is sent."""
    conversation = column.conversation
    conversation.variables = dict(variables)
    params = column.spec.parameters
    args = conversation.request_arguments(column.spec.instructions, params, choices.default_model)
    return args, params.model or conversation.assistant.model or choices.default_model


async def _once(view: CompareView) -> AsyncGenerator[CompareView, None]:
    yield view


async def _stream(
    ctx: StudioContext,
    compare: CompareSession,
    choices: Choices,
    jobs: list[tuple[int, Turn, tuple[dict, str]]],
    *,
    draft: str | None,
) -> AsyncGenerator[CompareView, None]:
    yield CompareView(compare, draft=draft)
    outcomes = [Outcome() for _ in jobs]
    where = LogContext(ctx.server_key, "compare")
    streams = [
        stream_answer(
            ctx.client,
            compare.columns[index].conversation,
            turn,
            args,
            model=model,
            outcome=outcome,
            log=ctx.log_generation,
            log_context=where,
        )  # fmt: skip
        for (index, turn, (args, model)), outcome in zip(jobs, outcomes, strict=True)
    ]
    async with aclosing(merge(streams)) as merged:  # leaving early cancels every column's stream at once
        async for _ in merged:
            yield CompareView(compare)
    balances = [o.end.balance_remaining for o in outcomes if o.end and o.end.balance_remaining is not None]
    if balances:
        choices.balance = min(balances)
    yield CompareView(compare, cost=turn_cost(compare, choices), notices=column_notices(compare))


# --- Choosing -------------------------------------------------------------------------------------------


async def prefer(ctx: StudioContext, compare: CompareSession, index: int) -> str:
    """Record that column `index` gave the best answer, against the version it ran; returns a notice."""
    try:
        require_editable(ctx)
        column = compare.column(int(index))
        turns = column.conversation.turns
        if not turns or turns[-1].status != "done":
            raise ChatInputError("That column has no finished answer to prefer yet: send a message first.")
        profile = column.conversation.assistant
        mine = profile.kind == "mine" and profile.assistant_id
        # Edited instructions are no version: the win goes to the assistant, not to the text it started from.
        edited = profile.instructions_edited(column.spec.instructions)
        await ctx.library.record_win(
            assistant_id=profile.assistant_id if mine else None,
            number=profile.version if mine and not edited else None,
            assistant_name=profile.name,
            model=turns[-1].stats.model if turns[-1].stats else profile.model,
            columns=len(compare.columns),
        )
    except Exception as err:
        return f"Not recorded: {describe_error(err)}"
    if edited:
        which = "an edited copy of "
    elif mine and profile.version is not None:
        which = f"version {profile.version} of "
    else:
        which = ""
    return f"Recorded: column {int(index) + 1} ({which}{profile.name}) gave the answer you preferred."


def continue_with(compare: CompareSession, index: int) -> ChatSession:
    """Leave Compare with column `index`'s conversation as the chat (a copy, so Compare keeps its own)."""
    column = compare.column(int(index))
    if column.conversation.busy:
        raise ChatInputError("That column is still answering: wait for it, or press Stop first.")
    return column.conversation.copy()
