"""Assistants' history (versions, labels, Compare's wins) and the generation log.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SERVER = 500
IDENT = 200


def upgrade() -> None:
    op.create_table(
        "assistants",
        sa.Column("server", sa.String(SERVER), nullable=False),
        sa.Column("assistant_id", sa.String(IDENT), nullable=False),
        sa.Column("lineage", sa.String(IDENT), nullable=False),
        sa.Column("name", sa.Text(), nullable=False, server_default=""),
        sa.Column("last_number", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("first_seen_ms", sa.BigInteger(), nullable=False),
        sa.Column("deleted_ms", sa.BigInteger()),
        sa.Column("restored_as", sa.String(IDENT)),
        sa.PrimaryKeyConstraint("server", "assistant_id", name="pk_assistants"),
    )
    op.create_index("ix_assistants_lineage", "assistants", ["server", "lineage"])
    op.create_table(
        "assistant_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("server", sa.String(SERVER), nullable=False),
        sa.Column("lineage", sa.String(IDENT), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("assistant_id", sa.String(IDENT), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("restored_from", sa.Integer()),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("server", "lineage", "number", name="uq_assistant_versions_number"),
    )
    op.create_table(
        "assistant_labels",
        sa.Column("server", sa.String(SERVER), nullable=False),
        sa.Column("lineage", sa.String(IDENT), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("server", "lineage", "label", name="pk_assistant_labels"),
    )
    op.create_table(
        "compare_wins",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("server", sa.String(SERVER), nullable=False),
        sa.Column("lineage", sa.String(IDENT)),
        sa.Column("number", sa.Integer()),
        sa.Column("assistant_name", sa.Text(), nullable=False, server_default=""),
        sa.Column("model", sa.Text(), nullable=False, server_default=""),
        sa.Column("columns", sa.Integer(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_compare_wins_version", "compare_wins", ["server", "lineage", "number"])
    op.create_table(
        "generations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at_ms", sa.BigInteger(), nullable=False),
        sa.Column("server", sa.String(SERVER), nullable=False),
        sa.Column("assistant_id", sa.String(IDENT)),
        sa.Column("lineage", sa.String(IDENT)),
        sa.Column("version", sa.Integer()),
        sa.Column("assistant_name", sa.Text(), nullable=False, server_default=""),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("engine", sa.String(40)),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("run_id", sa.String(40)),
        sa.Column("tokens_used", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("prompt_tokens", sa.Integer()),
        sa.Column("completion_tokens", sa.Integer()),
        sa.Column("total_tokens", sa.Integer()),
        sa.Column("first_token_ms", sa.Float()),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error_class", sa.String(60)),
        sa.Column("balance_after", sa.BigInteger()),
    )
    op.create_index("ix_generations_server_at", "generations", ["server", "at_ms"])
    op.create_index("ix_generations_lineage_at", "generations", ["server", "lineage", "at_ms"])
    op.create_index("ix_generations_at", "generations", ["at_ms"])
    op.create_index("ix_generations_lineage_latest", "generations", ["lineage", "at_ms"])
    op.create_index("ix_generations_model", "generations", ["server", "model"])


def downgrade() -> None:
    for table in ("generations", "compare_wins", "assistant_labels", "assistant_versions", "assistants"):
        op.drop_table(table)
