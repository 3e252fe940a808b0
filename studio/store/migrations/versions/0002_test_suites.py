"""Test suites: suites, their cases, runs and each run's results.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SERVER = 500
IDENT = 200
RUN_ID = 40


def upgrade() -> None:
    op.create_table(
        "test_suites",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("server", sa.String(SERVER), nullable=False),
        sa.Column("lineage", sa.String(IDENT), nullable=False),
        sa.Column("assistant_id", sa.String(IDENT), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False, server_default=""),
        sa.Column("judge", sa.String(IDENT + 20), nullable=False, server_default=""),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("server", "lineage", "name", name="uq_test_suites_name"),
    )
    op.create_table(
        "test_cases",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("suite_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("vars", sa.JSON(), nullable=False),
        sa.Column("messages", sa.JSON(), nullable=False),
        sa.Column("assertions", sa.JSON(), nullable=False),
        sa.Column("replay", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_test_cases_suite", "test_cases", ["suite_id", "position"])
    op.create_table(
        "test_runs",
        sa.Column("id", sa.String(RUN_ID), nullable=False),
        sa.Column("server", sa.String(SERVER), nullable=False),
        sa.Column("lineage", sa.String(IDENT), nullable=False),
        sa.Column("suite_id", sa.Integer()),
        sa.Column("suite_name", sa.Text(), nullable=False, server_default=""),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(255), nullable=False, server_default=""),
        sa.Column("pid", sa.Integer()),
        sa.Column("heartbeat_ms", sa.BigInteger(), nullable=False),
        sa.Column("started_ms", sa.BigInteger(), nullable=False),
        sa.Column("finished_ms", sa.BigInteger()),
        sa.PrimaryKeyConstraint("id", name="pk_test_runs"),
    )
    op.create_index("ix_test_runs_lineage", "test_runs", ["server", "lineage", "started_ms"])
    op.create_index("ix_test_runs_status", "test_runs", ["status"])
    op.create_table(
        "test_results",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(RUN_ID), nullable=False),
        sa.Column("case_index", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer()),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False, server_default=""),
        sa.Column("error", sa.Text(), nullable=False, server_default=""),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.Column("turns", sa.JSON()),
        sa.Column("model", sa.Text(), nullable=False, server_default=""),
        sa.Column("tokens_used", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("judge_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("latency_ms", sa.Float()),
        sa.Column("first_token_ms", sa.Float()),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("run_id", "case_index", "target", "repeat", name="uq_test_results_cell"),
    )


def downgrade() -> None:
    for table in ("test_results", "test_runs", "test_cases", "test_suites"):
        op.drop_table(table)
