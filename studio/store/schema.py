"""The tables of the studio's own store, as SQLAlchemy Core. Alembic's migrations build them; the code
reads and writes through these objects, so both always agree.

Every record is keyed by the server it belongs to (`server`: the normalised base URL, never the key) and
the assistant, so the local server's assistants and NeuralBox's never mix. An assistant's history is kept
under its *lineage*: the id it had when the studio first saw it. An assistant deleted and brought back gets
a new id from the API, and its history goes on under the same lineage.

Times are whole milliseconds since the epoch, UTC (`*_ms` columns): the same arithmetic in SQLite and
PostgreSQL, for the per-day buckets of the usage view.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

# Stable constraint names, so migrations can refer to them on every database.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

SERVER = 500  # a base URL
IDENT = 200  # an assistant id

# One row per assistant the studio has seen on a server.
assistants = Table(
    "assistants",
    metadata,
    Column("server", String(SERVER), primary_key=True),
    Column("assistant_id", String(IDENT), primary_key=True),
    Column("lineage", String(IDENT), nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("last_number", Integer, nullable=False, server_default="0"),  # the lineage's last version number
    Column("first_seen_ms", BigInteger, nullable=False),
    Column("deleted_ms", BigInteger),  # set when it is gone from the API
    Column("restored_as", String(IDENT)),  # the id it was brought back as
    Index("ix_assistants_lineage", "server", "lineage"),
)

# Every version of an assistant: all four fields, immutable once written.
versions = Table(
    "assistant_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("server", String(SERVER), nullable=False),
    Column("lineage", String(IDENT), nullable=False),
    Column("number", Integer, nullable=False),
    Column("assistant_id", String(IDENT), nullable=False),  # the id the assistant had at the time
    Column("name", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("instructions", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("source", String(20), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("restored_from", Integer),  # the version number a restore brought back
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("server", "lineage", "number", name="uq_assistant_versions_number"),
)

# Movable names for one version each: production, staging, or any other.
labels = Table(
    "assistant_labels",
    metadata,
    Column("server", String(SERVER), primary_key=True),
    Column("lineage", String(IDENT), primary_key=True),
    Column("label", String(64), primary_key=True),
    Column("number", Integer, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
)

# "Prefer this answer" in Compare: which column won, against the version it ran.
wins = Table(
    "compare_wins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("server", String(SERVER), nullable=False),
    Column("lineage", String(IDENT)),  # None for an assistant that is not one of mine
    Column("number", Integer),
    Column("assistant_name", Text, nullable=False, server_default=""),
    Column("model", Text, nullable=False, server_default=""),
    Column("columns", Integer, nullable=False),  # how many answers it was preferred over, plus one
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_compare_wins_version", "server", "lineage", "number"),
)

# Every generate call the studio makes: how it went, never what was said.
generations = Table(
    "generations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at_ms", BigInteger, nullable=False),
    Column("server", String(SERVER), nullable=False),
    Column("assistant_id", String(IDENT)),
    Column("lineage", String(IDENT)),
    Column("version", Integer),
    Column("assistant_name", Text, nullable=False, server_default=""),
    Column("model", Text, nullable=False),
    Column("engine", String(40)),
    Column("origin", String(20), nullable=False),  # playground, compare, test
    Column("run_id", String(40)),
    Column("tokens_used", Integer, nullable=False, server_default="0"),
    Column("prompt_tokens", Integer),
    Column("completion_tokens", Integer),
    Column("total_tokens", Integer),
    Column("first_token_ms", Float),
    Column("total_ms", Float, nullable=False),
    Column("outcome", String(20), nullable=False),  # completed, stopped, failed
    Column("error_class", String(60)),
    Column("balance_after", BigInteger),
    Index("ix_generations_server_at", "server", "at_ms"),
    Index("ix_generations_lineage_at", "server", "lineage", "at_ms"),
    # The usage view: time ranges over every server, the name an assistant last ran with, the models.
    Index("ix_generations_at", "at_ms"),
    Index("ix_generations_lineage_latest", "lineage", "at_ms"),
    Index("ix_generations_model", "server", "model"),
)

# --- Test suites (revision 0002) -------------------------------------------------------------------------
# No foreign keys: SQLite enforces them only when asked on every connection, so the code deletes a suite's
# cases itself, and runs and their results outlive the suite (and the cases) they were made from.
RUN_ID = 40  # a run's id, also the generation log's run_id

# A suite of test cases for one assistant (its lineage), named uniquely per assistant.
test_suites = Table(
    "test_suites",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("server", String(SERVER), nullable=False),
    Column("lineage", String(IDENT), nullable=False),
    Column("assistant_id", String(IDENT), nullable=False),  # the id it runs against
    Column("name", String(200), nullable=False),
    Column("prompt", Text, nullable=False, server_default=""),  # the user message of cases without messages
    Column("judge", String(IDENT + 20), nullable=False, server_default=""),  # a model slug, or assistant:<id>
    Column("created_ms", BigInteger, nullable=False),
    Column("updated_ms", BigInteger, nullable=False),
    UniqueConstraint("server", "lineage", "name", name="uq_test_suites_name"),
)

# A suite's cases, in order.
test_cases = Table(
    "test_cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("suite_id", Integer, nullable=False),
    Column("position", Integer, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("vars", JSON, nullable=False),  # {name: value}
    Column("messages", JSON, nullable=False),  # [{role, content}]; [] uses the suite's prompt
    Column("assertions", JSON, nullable=False),  # [{type, value, threshold, turn}]
    Column("replay", Boolean, nullable=False, server_default=false()),
    Column("created_ms", BigInteger, nullable=False),
    Index("ix_test_cases_suite", "suite_id", "position"),
)

# A run of a suite against one or more targets; `running` until it ends, or until it is found cut short.
test_runs = Table(
    "test_runs",
    metadata,
    Column("id", String(RUN_ID), primary_key=True),
    Column("server", String(SERVER), nullable=False),
    Column("lineage", String(IDENT), nullable=False),
    Column("suite_id", Integer),  # None for a run of a file (the command line)
    Column("suite_name", Text, nullable=False, server_default=""),
    Column("origin", String(20), nullable=False),  # studio, cli
    Column("status", String(20), nullable=False),  # running, finished, cancelled, interrupted
    Column("targets", JSON, nullable=False),  # [{label, version, model, instructions}]
    Column("cases", Integer, nullable=False),
    Column("repeats", Integer, nullable=False),
    Column("concurrency", Integer, nullable=False),
    Column("host", String(255), nullable=False, server_default=""),  # who runs it, to notice it died
    Column("pid", Integer),
    Column("heartbeat_ms", BigInteger, nullable=False),
    Column("started_ms", BigInteger, nullable=False),
    Column("finished_ms", BigInteger),
    Index("ix_test_runs_lineage", "server", "lineage", "started_ms"),
    Index("ix_test_runs_status", "status"),
)

# One answer of a run: a case (one repeat of it) against one target, and each assertion's result.
test_results = Table(
    "test_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(RUN_ID), nullable=False),
    Column("case_index", Integer, nullable=False),  # its place in the run
    Column("case_id", Integer),  # the suite's case, None for a file's
    Column("description", Text, nullable=False, server_default=""),
    Column("target", Integer, nullable=False),
    Column("repeat", Integer, nullable=False),
    Column("status", String(10), nullable=False),  # pass, fail, error
    Column("answer", Text, nullable=False, server_default=""),
    Column("error", Text, nullable=False, server_default=""),  # why the call failed
    Column("outcomes", JSON, nullable=False),  # [{type, status, reason, check, turn}]
    Column("turns", JSON),  # a replay's turns: [{user, reference, answer, status, outcomes, ...}]
    Column("model", Text, nullable=False, server_default=""),
    Column("tokens_used", Integer, nullable=False, server_default="0"),
    Column("judge_tokens", Integer, nullable=False, server_default="0"),
    Column("latency_ms", Float),
    Column("first_token_ms", Float),
    Column("created_ms", BigInteger, nullable=False),
    UniqueConstraint("run_id", "case_index", "target", "repeat", name="uq_test_results_cell"),
)
