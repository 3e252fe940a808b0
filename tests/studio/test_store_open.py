"""Opening the store: migrations on SQLite and PostgreSQL, and a studio that starts without it."""

from __future__ import annotations

import os
import stat

from sqlalchemy import inspect, text

from studio.store import StoreHandle


def test_migrations_build_every_table(store):
    tables = set(inspect(store.get().db.engine).get_table_names())
    assert {"assistants", "assistant_versions", "assistant_labels", "compare_wins", "generations"} <= tables
    assert "alembic_version" in tables


def test_the_head_revision_is_alembics_and_a_database_at_it_is_left_alone(store):
    """The start-up shortcut (no Alembic when the database is at the head) reads the head from the migration
    files' names: it must be the head Alembic itself finds."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from studio.store.database import MIGRATIONS, head_revision

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()
    database = store.get().db
    assert database._at_head()
    with database.write() as db:
        db.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert not database._at_head()  # an older database is migrated by Alembic, as before


def test_the_sqlite_file_is_private(tmp_path):
    handle = StoreHandle(f"sqlite:///{tmp_path / 'data' / 'workbench.db'}")
    handle.get()
    mode = stat.S_IMODE(os.stat(tmp_path / "data" / "workbench.db").st_mode)
    handle.close()
    assert mode == 0o600


def test_a_store_that_cannot_open_says_why_and_never_shows_the_password(postgres):
    closed = (
        postgres.url("nowhere").replace(f":{postgres.port}/", ":1/").replace("postgres@", "postgres:s3cret@")
    )
    handle = StoreHandle(closed, retry_seconds=0)
    problem = handle.problem
    assert "not answering" in problem and "STUDIO_DATABASE_URL" in problem and "s3cret" not in problem
    assert "everything else works" in problem
