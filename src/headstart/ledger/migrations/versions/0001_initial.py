"""Create the ledger tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_table(
        "engineers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("identity", sa.String(320), nullable=False, unique=True),
        sa.Column("email", sa.String(320)),
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="SET NULL")),
        sa.Column("created_at", _utc(), nullable=False),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("repository", sa.String(500)),
        sa.Column("engineer_id", sa.Integer, sa.ForeignKey("engineers.id", ondelete="SET NULL")),
        sa.Column("session_id", sa.String(200)),
        sa.Column("tool", sa.String(50)),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("finished_at", _utc()),
        sa.Column("outcome", sa.String(20)),
    )
    op.create_table(
        "agent_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tool", sa.String(50), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("engineer_id", sa.Integer, sa.ForeignKey("engineers.id", ondelete="SET NULL")),
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="SET NULL")),
        sa.Column("repository", sa.String(500)),
        sa.Column("branch", sa.String(500)),
        sa.Column("cwd", sa.Text),
        sa.Column("task_id", sa.String(40), sa.ForeignKey("tasks.id", ondelete="SET NULL")),
        sa.Column("first_seen", _utc()),
        sa.Column("last_seen", _utc()),
        sa.UniqueConstraint("tool", "external_id", name="uq_agent_sessions_tool_external_id"),
    )
    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("dedup_key", sa.String(300), nullable=False, unique=True),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("tool", sa.String(50), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("timestamp", _utc(), nullable=False),
        sa.Column(
            "session_id", sa.Integer, sa.ForeignKey("agent_sessions.id", ondelete="SET NULL")
        ),
        sa.Column("request_id", sa.String(200)),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger, nullable=False),
        sa.Column("cache_write_5m_tokens", sa.BigInteger, nullable=False),
        sa.Column("cache_write_1h_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger, nullable=False),
        sa.Column("reported_cost", sa.BigInteger),
        sa.Column("computed_cost", sa.BigInteger),
        sa.Column("priced", sa.Boolean, nullable=False),
        sa.Column("price_version", sa.String(200)),
        sa.Column("pricing_note", sa.Text),
        sa.Column("engineer_id", sa.Integer, sa.ForeignKey("engineers.id", ondelete="SET NULL")),
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="SET NULL")),
        sa.Column("organization", sa.String(200)),
        sa.Column("repository", sa.String(500)),
        sa.Column("branch", sa.String(500)),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("ingested_at", _utc(), nullable=False),
    )
    op.create_index("ix_usage_records_timestamp", "usage_records", ["timestamp"])
    op.create_index("ix_usage_records_tool_model", "usage_records", ["tool", "model"])
    op.create_index("ix_usage_records_session", "usage_records", ["session_id"])
    op.create_table(
        "brief_deliveries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("task", sa.Text, nullable=False),
        sa.Column("task_id", sa.String(40), sa.ForeignKey("tasks.id", ondelete="SET NULL")),
        sa.Column("repository", sa.String(500)),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("tokens", sa.Integer, nullable=False),
        sa.Column("session_id", sa.String(200)),
        sa.Column("delivered_at", _utc(), nullable=False),
    )
    op.create_table(
        "session_briefs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "session_id",
            sa.Integer,
            sa.ForeignKey("agent_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("brief_id", sa.String(40), nullable=False),
        sa.UniqueConstraint("session_id", "brief_id", name="uq_session_briefs"),
    )
    op.create_index("ix_session_briefs_brief_id", "session_briefs", ["brief_id"])
    op.create_table(
        "ingest_checkpoints",
        sa.Column("path", sa.String(2000), primary_key=True),
        sa.Column("reader", sa.String(50), nullable=False),
        sa.Column("device", sa.BigInteger, nullable=False),
        sa.Column("inode", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("head_digest", sa.String(64), nullable=False),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    )
    op.create_table(
        "push_cursors",
        sa.Column("server", sa.String(1000), primary_key=True),
        sa.Column("last_record_id", sa.Integer, nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "push_cursors",
        "ingest_checkpoints",
        "session_briefs",
        "brief_deliveries",
        "usage_records",
        "agent_sessions",
        "tasks",
        "engineers",
        "teams",
    ):
        op.drop_table(table)
