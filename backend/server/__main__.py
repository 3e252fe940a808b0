"""`assistant-studio-server` (or `python -m backend.server`): the local Assistants API on its own."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

import uvicorn

from backend.server.app import PREFIX, create_app
from backend.server.embedded import bind_socket, url_host
from backend.server.logs import log_config
from backend.server.store import KEY_FILE
from backend.settings import Settings

DEFAULT_PORT = 8765


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="assistant-studio-server",
        description="Serve the Assistants API locally (FastAPI + SQLite + a local model). Settings not given "
        "here come from STUDIO_* environment variables and .env.",
    )
    parser.add_argument(
        "--host", default=None, help="Interface to listen on (default: STUDIO_LOCAL_HOST or 127.0.0.1)."
    )
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"Port to listen on (default: STUDIO_LOCAL_PORT if set, else {DEFAULT_PORT}; 0 picks a free one).",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="Where the database and the key file live."
    )
    parser.add_argument(
        "--engine",
        choices=["llama", "openai", "echo"],
        default=None,
        help="The engine for every model ('*' route).",
    )
    parser.add_argument(
        "--print-key", action="store_true", help="Print the API key (it is otherwise only in the key file)."
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Start the server in the foreground until Ctrl+C."""
    args = parse_args(argv)
    overrides: dict[str, object] = {}
    if args.port is not None:
        overrides["local_port"] = args.port
    if args.host:
        overrides["local_host"] = args.host
    if args.data_dir:
        overrides["data_dir"] = args.data_dir.expanduser()
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if args.port is None and not settings.local_port:
        settings.local_port = DEFAULT_PORT  # the embedded server's "any free port" is no use stand-alone
    if args.engine:
        settings.engines = {**settings.engines, "*": args.engine}
    app = create_app(settings)
    try:
        sock = bind_socket(settings.local_host, settings.local_port)
    except OSError as exc:
        raise SystemExit(
            f"Cannot listen on {settings.local_host}:{settings.local_port}: {exc.strerror or exc}"
        ) from None
    port = sock.getsockname()[1]
    print(f"Assistants API: http://{url_host(settings.local_host)}:{port}{PREFIX}")
    print(f"API key file:   {settings.data_dir / KEY_FILE}")
    if args.print_key:
        print(f"API key:        {app.state.api_key}")
    print("Press Ctrl+C to stop.", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl+C it shut down on
        uvicorn.Server(uvicorn.Config(app, log_level="info", log_config=log_config())).run(sockets=[sock])
    print("Stopped.")


if __name__ == "__main__":
    main()
