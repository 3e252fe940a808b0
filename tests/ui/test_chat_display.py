"""What the chat shows, read by a CommonMark renderer that keeps raw HTML (as the chat's sanitiser does): a
person's text exactly as typed; an answer's Markdown without tags or images, its code as written."""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt

from ui.chat_display import answer_markdown, typed_text, user_text

RENDER = MarkdownIt("commonmark")  # html on: the chat keeps ordinary HTML, so only the text can keep it out

IMAGES = [
    "![x](http://example.net/p.png?q=secret)",
    "\\![x](http://example.net/p.png?q=secret)",
    "Hello\n    ![x](http://example.net/p.png)",
    "- item\n\n    ![x](http://example.net/p.png)",
    "```a`b\n![x](http://example.net/p.png)",
    "para\n    <img src=http://example.net/s.png>",
    '<img src="http://example.net/s.png">',
    "\\`![x](http://example.net/p.png)`",
    "[![x](http://example.net/p.png)](http://example.net/)",
    "<div>\n\n![x](http://example.net/p.png)\n\n</div>",
]


def shown_text(rendered: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


@pytest.mark.parametrize("text", IMAGES)
def test_no_answer_makes_an_image_or_a_tag(text):
    rendered = RENDER.render(answer_markdown(text))
    assert "<img" not in rendered and "<div" not in rendered, rendered


def test_an_answers_code_and_markdown_stay_as_written():
    answer = (
        'Use **this**:\n\n```html\n<div class="box">![x](y)</div>\n```\n\nand `Vec<T>` or\n\n    a < b && c\n'
    )
    rendered = RENDER.render(answer_markdown(answer))
    assert "<strong>this</strong>" in rendered
    assert '<code class="language-html">&lt;div class=&quot;box&quot;&gt;![x](y)&lt;/div&gt;' in rendered
    assert "<code>Vec&lt;T&gt;</code>" in rendered
    assert "<pre><code>a &lt; b &amp;&amp; c" in rendered


def test_an_answers_html_is_shown_as_text():
    rendered = RENDER.render(answer_markdown('Is this right? <div class="box"><b>Hi</b></div> & more'))
    assert shown_text(rendered).strip() == 'Is this right? <div class="box"><b>Hi</b></div> & more'


@pytest.mark.parametrize(
    "typed",
    [
        'Is this HTML right? <div class="box"><b>Hi</b></div>',
        "# not a heading\n- not a list\n    not code\n```\nnot a fence",
        "![x](http://example.net/p.png) and \\![y](z) and `code` and *stars* & &amp;",
    ],
)
def test_a_persons_text_is_shown_exactly_as_typed(typed):
    rendered = RENDER.render(user_text(typed))
    assert "<img" not in rendered and "<b>" not in rendered and "<pre" not in rendered
    shown = shown_text(rendered).replace("\u00a0", " ")
    assert [line.strip() for line in shown.strip().split("\n")] == [
        line.strip() for line in typed.split("\n")
    ]


@pytest.mark.parametrize(
    "typed",
    ["What's 2+2? \\(not a *list*)", "  indented\n\tand a tab: <b>x</b> `code` \\\\ back", "plain words"],
)
def test_a_message_edited_in_the_chat_is_sent_as_the_person_typed_it(typed):
    """The chat's own edit box starts from the shown (escaped) message; what is sent is the typed text."""
    assert typed_text(user_text(typed)) == typed.replace("\t", "    ")
    assert typed_text(user_text(typed) + " and more!") == typed.replace("\t", "    ") + " and more!"
