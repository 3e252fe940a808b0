"""A real PostgreSQL server for the store's tests: Debian's `postgresql`, started in a temporary folder.

The server runs as the `postgres` user when the tests run as root (PostgreSQL refuses to run as root), on
a free loopback port with its socket in the same folder, and is stopped when the tests end. Each test gets
a database of its own.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NO_POSTGRES = (
    "The store's tests need PostgreSQL, and it is not installed: run `apt-get install postgresql` (as root, "
    "or with sudo), or run `bash scripts/test.sh`, which installs it."
)
START_SECONDS = 60


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One throwaway cluster; `url(name)` for a database in it."""

    def __init__(self, folder: Path, port: int, run_as: list[str]) -> None:
        self.folder, self.port, self._run_as = folder, port, run_as

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"store_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        subprocess.run([*self._run_as, str(_binaries() / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
                        "-w", "stop"], capture_output=True, check=False)  # fmt: skip

    def kill(self) -> None:
        """Stop it at once, as a crash would (for the tests of a store that loses its database)."""
        subprocess.run([*self._run_as, str(_binaries() / "pg_ctl"), "-D", str(self.folder / "data"), "-m",
                        "immediate", "-w", "stop"], capture_output=True, check=False)  # fmt: skip

    def start(self) -> None:
        bin_dir = _binaries()
        assert bin_dir is not None
        log = self.folder / "server.log"
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        result = subprocess.run(
            [*self._run_as, str(bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-l", str(log), "-o",
             options, "-w", "-t", str(START_SECONDS), "start"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            detail = log.read_text(errors="replace")[-2000:] if log.exists() else result.stderr
            raise RuntimeError(f"PostgreSQL did not start: {detail}")
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("PostgreSQL started but does not accept connections.")


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    """Start a throwaway cluster (trust authentication, loopback only) for the duration of the block."""
    bin_dir = _binaries()
    if bin_dir is None:
        raise RuntimeError(NO_POSTGRES)
    folder = Path(tempfile.mkdtemp(prefix="studio-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-A", "trust",
                    "-E", "UTF8", "--no-locale"], capture_output=True, check=True)  # fmt: skip
    server = PostgresServer(folder, _free_port(), run_as)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
