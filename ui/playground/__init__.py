"""The Playground tab, a prompt workbench: chat or compare, versions, {{variables}}, conversations kept in
the browser. `tab` lays out and wires; `chat`, `compare` and `saved` hold the handlers."""

from ui.playground.tab import build_playground_tab

__all__ = ["build_playground_tab"]
