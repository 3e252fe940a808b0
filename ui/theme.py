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
    """A calm indigo theme with system fonts only, so a page never waits on a font server.

    The changes to Soft are for legibility (WCAG AA, checked by tests/e2e/test_look.py): darker primary
    buttons and labels, hints that are not too faint, and a Stop / Delete that reads as one, in light and dark.
    """
    system = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial",
              "Noto Sans", "sans-serif", "Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji")  # fmt: skip
    mono = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace")
    theme = gr.themes.Soft(
        primary_hue="indigo", secondary_hue="sky", neutral_hue="slate", font=system, font_mono=mono
    )
    return theme.set(
        body_background_fill="*neutral_100",  # white panels stand out from the page
        body_text_color_subdued="*neutral_500",
        body_text_color_subdued_dark="*neutral_400",
        block_label_text_color="*primary_700",
        block_title_text_color="*primary_700",
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
        button_primary_background_fill_dark="*primary_600",
        button_primary_background_fill_hover_dark="*primary_500",
        button_cancel_text_color="#b91c1c",
        button_cancel_text_color_hover="#991b1b",
        button_cancel_border_color="#fca5a5",
        button_cancel_border_color_hover="#f87171",
        button_cancel_background_fill_hover="#fef2f2",
        button_cancel_text_color_dark="#fca5a5",
        button_cancel_text_color_hover_dark="#fecaca",
        button_cancel_border_color_dark="#b91c1c",
        button_cancel_border_color_hover_dark="#ef4444",
        button_cancel_background_fill_hover_dark="#450a0a",
    )


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
