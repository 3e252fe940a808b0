"""The Playground tab, a prompt workbench: chat or compare, versions, {{variables}}, conversations kept in
the browser. `tab` builds it from `layout` (the components) and wires `chat_events` and `compare_events`
(the handlers as Gradio calls them, over `views`, which turns values into components); `chat`, `compare`
and `saved` hold the plain functions those call; `session` is one browser tab's state."""

from ui.playground.tab import build_playground_tab

__all__ = ["build_playground_tab"]
