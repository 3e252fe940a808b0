"""Opening the store's database: its URL, SQLite's settings, and the schema brought up to date by Alembic.

By default the store is a SQLite file in the data folder, separate from the local server's database;
`STUDIO_DATABASE_URL` takes a PostgreSQL URL (psycopg 3) so that several studio processes share one store.
Every failure to open is a StoreUnavailable whose message says what is wrong and how to fix it, without
the URL's password.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, inspect, make_url, text
from sqlalchemy.engine import URL

from studio.errors import StudioError

DB_FILE = "workbench.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def head_revision() -> str:
    """The newest migration's revision: each file in migrations/versions is named after its revision,
    numbered in order (0001_..., 0002_...), so the highest number is Alembic's head."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


# Any fixed number: PostgreSQL's advisory lock that lets one process at a time migrate the schema.
_MIGRATION_LOCK = 7_461_002
_FIX = "Versions, test suites and usage are off until then; everything else works."


class StoreUnavailable(StudioError):
    """The store cannot be used now; the message says why and what to do."""


def default_url(data_dir: Path) -> str:
    """The SQLite file of the store, in the studio's data folder."""
    return f"sqlite:///{Path(data_dir).expanduser() / DB_FILE}"


def store_url(database_url: str | None, data_dir: Path) -> str:
    """The store the settings name: STUDIO_DATABASE_URL, else the SQLite file in the data folder."""
    return database_url.strip() if database_url and database_url.strip() else default_url(data_dir)


def safe_url(url: str | URL) -> str:
    """The URL as it may be shown: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "(not a URL)"


def _normalise(url: str) -> URL:
    """PostgreSQL through psycopg 3 whatever the URL says; SQLite as given."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as err:
        raise StoreUnavailable(
            "STUDIO_DATABASE_URL is not a database URL: use postgresql://USER:PASSWORD@HOST/DATABASE, "
            f"or leave it unset for a SQLite file in the data folder. {_FIX}"
        ) from err
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise StoreUnavailable(
        f"STUDIO_DATABASE_URL names a {backend} database; the studio's store runs on PostgreSQL or SQLite. "
        f"Use postgresql://USER:PASSWORD@HOST/DATABASE. {_FIX}"
    )


def _prepare_sqlite_file(url: URL) -> None:
    """Create the folder (private) and the file (readable by its owner only), as the API key is kept."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _sqlite_settings(engine: Engine) -> None:
    """WAL with synchronous=NORMAL, and transactions the studio begins itself, so a write transaction can
    take the lock up front (BEGIN IMMEDIATE).

    NORMAL, not FULL: in WAL mode a committed transaction is in the log before the commit returns, so a
    killed studio (kill -9) loses nothing it acknowledged; only a power cut could lose the last moments of
    history, never corrupting it. FULL would add an fsync to every save (0.65 ms of a 0.3 ms write here).
    The local server keeps FULL: it holds the balance."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin event below emits BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def describe_failure(err: BaseException, url: URL) -> str:
    """Why the database could not be used, and how to fix it; never the password."""
    lines = str(getattr(err, "orig", None) or err).strip().splitlines()
    detail = lines[0] if lines else type(err).__name__
    if url.password:
        detail = detail.replace(str(url.password), "***")
    shown = safe_url(url)
    if url.get_backend_name() == "sqlite":
        return (
            f"The studio's store ({shown}) cannot be opened or written ({detail}): check that its folder "
            f"exists and is writable, or set STUDIO_DATA_DIR or STUDIO_DATABASE_URL. {_FIX}"
        )
    return (
        f"The studio's store at {shown} is not answering ({detail}): start PostgreSQL, or fix "
        f"STUDIO_DATABASE_URL. {_FIX}"
    )


class Database:
    """One engine over the store's database; the schema is migrated when it is opened."""

    def __init__(self, url: str) -> None:
        self.url = _normalise(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        try:
            if self.is_sqlite:
                _prepare_sqlite_file(self.url)
                self.engine = create_engine(self.url, connect_args={"timeout": 10})
                _sqlite_settings(self.engine)
            else:
                self.engine = create_engine(
                    self.url,
                    pool_pre_ping=True,
                    pool_size=5,
                    max_overflow=10,
                    connect_args={"connect_timeout": 5},
                )
            self.migrate()
        except StoreUnavailable:
            raise
        except (exc.SQLAlchemyError, OSError) as err:
            raise StoreUnavailable(describe_failure(err, self.url)) from err

    def migrate(self) -> None:
        """Bring the schema up to date (Alembic's head), one process at a time. A database already at the
        head is left alone without loading Alembic: a start of the studio pays only one query for it."""
        if self._at_head():
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as connection:
            if not self.is_sqlite:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
                connection.commit()
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
            finally:
                if not self.is_sqlite:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
                    connection.commit()

    def _at_head(self) -> bool:
        with self.engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        return found == [head_revision()]

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that writes: on SQLite it takes the write lock at its start, so two writers never
        read the same state and then collide; committed (and on disk) when the block ends."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(immediate=True)
            with connection.begin():
                yield connection

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction that only reads."""
        with self.engine.connect() as connection, connection.begin():
            yield connection

    def close(self) -> None:
        self.engine.dispose()
