"""The baseline: a bare Gradio app whose one handler only echoes, queued and launched as the studio is.

Run as a script, like app.py: `python bench/bare_app.py --port P`. It imports nothing of the studio.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402


async def chat(message: str) -> str:
    """Echo the message."""
    return f"You said: {message}"


def build() -> gr.Blocks:
    """One textbox in, one out, the handler exposed as "chat" like the Playground's."""
    with gr.Blocks(title="Bare echo") as blocks:
        message = gr.Textbox(label="Message")
        reply = gr.Textbox(label="Reply")
        message.submit(chat, inputs=message, outputs=reply, api_name="chat")
    # The studio's queue settings (ui/app.py configure_queue), so both queue alike.
    return blocks.queue(default_concurrency_limit=64, max_size=None)


def main() -> None:
    """Launch on 127.0.0.1 and the given port until stopped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    build().launch(server_name="127.0.0.1", server_port=args.port, max_threads=100)


if __name__ == "__main__":
    main()
