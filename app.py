"""Assistant Studio: `python app.py` (or `assistant-studio`) parses the options and launches the studio."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend.connection import Connection
    from ui.context import StudioContext

# Before Gradio is imported: no usage reports leave the machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

EXIT_USAGE = 2  # the options were refused
EXIT_SETTINGS = 3  # the settings or the connection were not usable

PUBLIC_WITHOUT_LOGIN = (
    "Refusing to open a public link without a login: anyone who finds the link could use this studio, "
    "and every message they send would spend your token balance. "
    "Add --auth USER:PASSWORD (or --user and --password), or, if you accept the risk, "
    "--allow-public-without-login."
)
PUBLIC_RISK = (
    "WARNING: this studio is public without a login. Anyone with the link can use it, and every message "
    "they send spends your token balance."
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; see `python app.py --help`."""
    parser = argparse.ArgumentParser(
        prog="assistant-studio",
        description="A web studio for building, testing and sharing NeuralBox / Elumenta assistants. "
        "Without STUDIO_BASE_URL it runs its own local Assistants API server.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default: %(default)s)")
    parser.add_argument("--share", action="store_true", help="also open a public link (needs a login)")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="require this login to open the studio")
    parser.add_argument("--user", help="login name (with --password); an alternative to --auth")
    parser.add_argument("--password", help="login password (with --user)")
    parser.add_argument(
        "--demo", action="store_true", help="read-only: visitors can chat and browse, not change anything"
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer to this host name (repeatable; .example.com for all names under it, * for any); "
        "by default only localhost and IP addresses, against DNS rebinding",
    )
    parser.add_argument(
        "--allow-public-without-login",
        action="store_true",
        help="allow --share without a login; anyone with the link would spend your balance",
    )
    return parser.parse_args(argv)


def login_from(args: argparse.Namespace) -> tuple[str, str] | None:
    """The (user, password) pair from --auth or --user/--password; ValueError names what is wrong."""
    if args.auth is not None and (args.user or args.password):
        raise ValueError(
            "Give the login either as --auth USER:PASSWORD or as --user and --password, not both."
        )
    if args.auth is not None:
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            raise ValueError("--auth must look like USER:PASSWORD, with both parts non-empty.")
        return user, password
    if bool(args.user) != bool(args.password):
        raise ValueError("--user and --password go together: give both, or use --auth USER:PASSWORD.")
    return (args.user, args.password) if args.user else None


def is_public(args: argparse.Namespace) -> bool:
    """Whether people other than this machine's user can reach the studio."""
    if args.share:
        return True
    try:
        return not ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        return args.host != "localhost"


def setting_problems(err: Any) -> str:
    """A pydantic error as "STUDIO_NAME: problem" pairs, without the values given."""
    problems = []
    for error in err.errors():
        name = "_".join(str(part) for part in error["loc"]).upper()
        problems.append(f"{name if name.startswith('STUDIO_') else 'STUDIO_' + name}: {error['msg']}")
    return "; ".join(problems)


def _fail(message: str, code: int) -> int:
    print(f"assistant-studio: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, open the connection, build the studio and serve it until stopped."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["test"]:  # `assistant-studio test SUITE_FILE ...`: run a test suite, for CI
        from studio.cli import main as run_tests

        return run_tests(argv[1:])
    args = parse_args(argv)
    try:
        login = login_from(args)
    except ValueError as err:
        return _fail(str(err), EXIT_USAGE)
    if not 1 <= args.port <= 65535:
        return _fail(f"--port {args.port} is not a port: use a number from 1 to 65535.", EXIT_USAGE)
    if is_public(args) and login is None:
        if args.share and not args.allow_public_without_login:
            return _fail(PUBLIC_WITHOUT_LOGIN, EXIT_USAGE)
        print(PUBLIC_RISK, file=sys.stderr)

    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from backend.errors import redact
    from backend.settings import Settings

    try:
        settings = Settings()
    except ValidationError as err:
        # Only where and what: pydantic's own text would repeat the values, and one of them may be the key.
        return _fail(
            f"a setting is not valid ({redact(setting_problems(err))}). Fix it in .env or the environment.",
            EXIT_SETTINGS,
        )
    except SettingsError as err:
        return _fail(
            f"a setting could not be read ({redact(str(err))}). Fix it in .env or the environment.",
            EXIT_SETTINGS,
        )

    args.allow_host = [*args.allow_host, *settings.allowed_hosts]

    from backend.connection import open_connection

    try:
        connection = open_connection(settings)
    except Exception as err:  # any failure to connect is told in one line, never as a traceback
        return _fail(f"could not open the connection: {redact(str(err))}", EXIT_SETTINGS)
    try:
        return serve(connection, args, login)
    finally:
        # The client's sockets belong to Gradio's event loop, gone by now; the process exit closes them.
        connection.close()


def studio_context(connection: Connection, *, demo: bool = False) -> StudioContext:
    """What the tabs are given: the client, the studio's store (opened now; the studio starts without it
    if it cannot be), and how records and kept conversations are keyed to this server."""
    from backend.settings import Settings
    from studio.saved_chats import browser_secret, fingerprint
    from studio.servers import server_key
    from studio.store import StoreHandle, store_url
    from ui.context import StudioContext

    settings = connection.settings or Settings(_env_file=None)
    database_url = settings.database_url.get_secret_value() if settings.database_url else None
    store = StoreHandle(store_url(database_url, settings.data_dir))
    store.open()
    key = server_key(connection.base_url, local_data_dir=settings.data_dir if connection.server else None)
    api_key = connection.api_key.get_secret_value() if connection.api_key is not None else None
    return StudioContext(
        client=connection.client,
        demo=demo,
        server_label=connection.label,
        store=store,
        server_key=key,
        browser_secret=browser_secret(settings.data_dir),
        browser_fingerprint=fingerprint(key, api_key),
    )


def serve(connection: Connection, args: argparse.Namespace, login: tuple[str, str] | None) -> int:
    """Build the Blocks for this connection and serve them until the process is stopped."""
    from ui.app import configure_queue, create_app, launch_kwargs

    ctx = studio_context(connection, demo=args.demo)
    print(f"Assistant Studio talks to {connection.label} at {connection.base_url}.")
    if ctx.store is not None and ctx.store.problem:
        print(f"assistant-studio: {ctx.store.problem}", file=sys.stderr)
    blocks = configure_queue(create_app(ctx))
    try:
        blocks.launch(
            **launch_kwargs(
                host=args.host, port=args.port, share=args.share, auth=login, allowed_hosts=args.allow_host
            )
        )
    except OSError as err:
        return _fail(
            f"could not listen on {args.host}:{args.port} ({err.strerror or err}). Try another --port.",
            EXIT_SETTINGS,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
