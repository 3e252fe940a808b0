"""How a conversation is drawn in a gr.Chatbot, safely.

The chat renders Markdown, and its sanitiser keeps ordinary HTML, so text is prepared before it goes in:
- a person's message is shown exactly as typed: every ASCII punctuation mark is backslash-escaped (which
  Markdown shows as the mark itself) and leading spaces become no-break spaces, so no Markdown, HTML or
  code block can form;
- an answer keeps its Markdown (lists, code, emphasis), but raw HTML is shown as text and images become
  plain links: an image in an answer (or a message) would make the browser fetch its address, which a
  prompt-injected model can use to send the conversation away.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

from studio.conversation import ChatSession, Turn, status_note

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
# A code span: a run of backticks not escaped, to the next run of the same length. A run taken for a span that
# Markdown reads otherwise would leave its text raw, so only an unescaped run opens one.
_CODE_SPAN = re.compile(r"(?<!\\)(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)
# Only the block structure is read (CommonMark, as the chat's renderer reads it), to find the code blocks.
_BLOCKS = MarkdownIt("commonmark")


def user_text(text: str) -> str:
    """A person's message, to be shown exactly as typed."""
    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)].replace("\t", "    ").replace(" ", "\u00a0")
        lines.append(indent + _PUNCTUATION.sub(r"\\\1", stripped))
    return "\n".join(lines)


def typed_text(shown: str) -> str:
    """What `user_text` was given, from what it made: the text of a message edited in the chat itself,
    which starts from the shown message."""
    lines = []
    for line in shown.split("\n"):
        stripped = line.lstrip("\u00a0")
        lines.append(" " * (len(line) - len(stripped)) + _ESCAPED.sub(r"\1", stripped))
    return "\n".join(lines)


def answer_markdown(text: str) -> str:
    """An answer's Markdown with raw HTML shown as text and images made into links; code left as it is.

    Which lines are code (fenced or indented blocks) is read by a CommonMark parser, not guessed line by
    line: a line that only looks like code (an indented paragraph continuation, a fence whose info string
    holds a backtick) is prepared like any other text."""
    code = _code_lines(text)
    return "\n".join(
        line if number in code else _outside_code_spans(line) for number, line in enumerate(text.split("\n"))
    )


def _code_lines(text: str) -> set[int]:
    """The numbers (from 0) of the lines that belong to code blocks, their fences included."""
    lines: set[int] = set()
    for token in _BLOCKS.parse(text):
        if token.type in ("fence", "code_block") and token.map:
            lines.update(range(*token.map))
    return lines


def _outside_code_spans(line: str) -> str:
    parts: list[str] = []
    last = 0
    for span in _CODE_SPAN.finditer(line):
        parts.append(_inert(line[last : span.start()]))
        parts.append(span.group(0))
        last = span.end()
    parts.append(_inert(line[last:]))
    return "".join(parts)


def _inert(text: str) -> str:
    """No tags and no images: `<` becomes an entity, and the `!` of `![` too, so a backslash before it cannot
    turn it back into an image."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("![", "&#33;[")


def _answer(turn: Turn) -> str:
    """An answer as the chat shows it, with its stats (or why it is missing) in small print under it."""
    if turn.in_flight and not turn.answer:
        return f"*{_inert(turn.notice or 'Waiting for the answer…')}*"
    text = answer_markdown(turn.answer)
    if turn.status == "stopped" and not turn.answer:
        text = "*(stopped before any text arrived)*"
    note = status_note(turn)
    small = f"<sub>{_inert(note)}</sub>" if note else ""
    return f"{text}\n\n{small}" if small and text else (text or small)


def chat_messages(conversation: ChatSession) -> list[dict[str, str]]:
    """The messages for gr.Chatbot: two per turn, always, so a message's index gives its turn."""
    messages: list[dict[str, str]] = []
    for turn in conversation.turns:
        messages.append({"role": "user", "content": user_text(turn.user)})
        messages.append({"role": "assistant", "content": _answer(turn)})
    return messages
