"""Create the tables behind the leaders' reports: work outcomes and usage summed per day.

`usage_daily` is filled on first use by `headstart.ledger.reports.rollup`, so this migration
stays quick on a large ledger. The index on `usage_records.ingested_at` lets that rollup find
what changed since its last run.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


REPORT_COLUMNS = (
    "counted",
    "started_at",
    "team_id",
    "engineer_id",
    "tool",
    "model",
    "work_type",
    "classification",
    "has_brief",
    "cost",
    "tokens",
    "merged_pull_requests",
    "reworked",
    "first_try",
)


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "work_outcomes",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("unit", sa.String(10), nullable=False),
        sa.Column(
            "session_id",
            sa.Integer,
            sa.ForeignKey("agent_sessions.id", ondelete="CASCADE"),
        ),
        sa.Column("task_id", sa.String(40), sa.ForeignKey("tasks.id", ondelete="CASCADE")),
        sa.Column("counted", sa.Boolean, nullable=False),
        sa.Column("tool", sa.String(50)),
        sa.Column("model", sa.String(200)),
        sa.Column("repository", sa.String(500)),
        sa.Column("branch", sa.String(500)),
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="SET NULL")),
        sa.Column("engineer_id", sa.Integer, sa.ForeignKey("engineers.id", ondelete="SET NULL")),
        sa.Column("started_at", _utc()),
        sa.Column("ended_at", _utc()),
        sa.Column("work_type", sa.String(20), nullable=False),
        sa.Column("classification", sa.String(20), nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("requests", sa.Integer, nullable=False),
        sa.Column("tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", sa.BigInteger, nullable=False),
        sa.Column("commits", sa.Integer, nullable=False),
        sa.Column("pull_requests", sa.Integer, nullable=False),
        sa.Column("merged_pull_requests", sa.Integer, nullable=False),
        sa.Column("merged", sa.Boolean, nullable=False),
        sa.Column("reverted", sa.Boolean, nullable=False),
        sa.Column("reworked", sa.Boolean, nullable=False),
        sa.Column("looped", sa.Boolean, nullable=False),
        sa.Column("abandoned", sa.Boolean, nullable=False),
        sa.Column("first_try", sa.Boolean, nullable=False),
        sa.Column("has_brief", sa.Boolean, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("analyzed_at", _utc(), nullable=False),
    )
    # Covers the columns the verdict, comparison and count queries read, so they scan the index
    # and never the rows, whose JSON columns are wide.
    op.create_index("ix_work_outcomes_report", "work_outcomes", list(REPORT_COLUMNS))
    op.create_index("ix_work_outcomes_cost", "work_outcomes", ["cost"])
    op.create_index("ix_work_outcomes_session", "work_outcomes", ["session_id"])

    op.create_table(
        "usage_daily",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("session_id", sa.Integer),
        sa.Column("team_id", sa.Integer),
        sa.Column("engineer_id", sa.Integer),
        sa.Column("tool", sa.String(50), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("repository", sa.String(500)),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_usage_daily_day", "usage_daily", ["day"])
    op.create_table(
        "rollup_state",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("latest", _utc()),
        sa.Column("watermark", _utc()),
    )
    op.create_index("ix_usage_records_ingested_at", "usage_records", ["ingested_at"])


def downgrade() -> None:
    op.drop_index("ix_usage_records_ingested_at", table_name="usage_records")
    op.drop_table("rollup_state")
    op.drop_index("ix_usage_daily_day", table_name="usage_daily")
    op.drop_table("usage_daily")
    op.drop_index("ix_work_outcomes_session", table_name="work_outcomes")
    op.drop_index("ix_work_outcomes_cost", table_name="work_outcomes")
    op.drop_index("ix_work_outcomes_report", table_name="work_outcomes")
    op.drop_table("work_outcomes")
