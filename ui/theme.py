"""The look of the studio: its theme, its stylesheet, and how untrusted text is shown as markdown."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import gradio as gr
import nh3

CSS_PATH = Path(__file__).resolve().parent.parent / "assets" / "studio.css"

# "[" and "]" would make links and images; "\\" could undo an escape; "`" and "*" would restyle the text.
# Underscores stay: they are common in names (STUDIO_BASE_URL) and inside words they never make emphasis.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]])")


def build_theme() -> gr.themes.Base:
    """A calm theme with system fonts only, so a page never waits on a font server."""
    system = ("ui-sans-serif", "system-ui", "sans-serif")
    mono = ("ui-monospace", "Consolas", "monospace")
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", font=system, font_mono=mono)


@cache
def load_css() -> str:
    """The studio's stylesheet; empty if the file is missing, since looks are not worth a crash."""
    try:
        return CSS_PATH.read_text(encoding="utf-8")
    except OSError:
        return ""


def escape_md(text: object) -> str:
    """Text from a stranger or a server, made inert inside markdown: no tags, no links, no emphasis."""
    value = "" if text is None else str(text)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MARKDOWN_SPECIAL.sub(r"\\\1", value)
    # At the start of a line these make a heading, a list, or turn the line above into a heading.
    return re.sub(r"(?m)^(\s*)([-=#+])", r"\1\\\2", value)


def sanitize_md(markdown: str) -> str:
    """The last pass over any markdown holding untrusted text: nh3 removes every tag and attribute."""
    return nh3.clean(markdown, tags=set(), attributes={}, strip_comments=True)
