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

from studio.conversation import ChatSession, Turn, status_note

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)


def user_text(text: str) -> str:
    """A person's message, to be shown exactly as typed."""
    lines = []
    for line in text.split("\n"):
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)].replace("\t", "    ").replace(" ", "\u00a0")
        lines.append(indent + _PUNCTUATION.sub(r"\\\1", stripped))
    return "\n".join(lines)


def answer_markdown(text: str) -> str:
    """An answer's Markdown with raw HTML shown as text and images made into links; code left as it is."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence is not None:  # inside a fenced block, everything is literal already
            out.append(line)
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            out.append(line)
            continue
        if line.startswith(("    ", "\t")):  # an indented code line: literal too
            out.append(line)
            continue
        out.append(_outside_code_spans(line))
    return "\n".join(out)


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
    """No tags and no images: `<` becomes an entity, and `![` a plain bang before a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace("![", "\\![")


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
