"""The README's gradio_client example, run as written against the launched studio, so the docs stay true."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    """The Python block under "Scripting the studio"."""
    section = README.read_text().split("## Scripting the studio", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README lost its scripting example"
    return match.group(1)


def test_the_readme_scripting_example_runs_and_prints_the_answer(launched_studio):
    code = readme_example()
    assert 'Client("http://127.0.0.1:7860/")' in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code.replace("http://127.0.0.1:7860/", launched_studio), {})  # noqa: S102
    # The echo engine answers with the turn number and the message: the assistant was opened and asked.
    assert "[turn 1 | instructions 21 chars] You said: Write about autumn." in out.getvalue()
