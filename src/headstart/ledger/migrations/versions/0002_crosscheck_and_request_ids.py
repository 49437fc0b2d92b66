"""Create the OTLP cross-check tables and make request ids unique per tool.

A request read from a session log and from OpenTelemetry used to be two rows. Rows that share
a tool and request id are merged into one here, as `headstart.ledger.usage_writes` merges new
reads: the tokens of the read with more of them (a log on a tie), the reported cost of whichever
has one, and a log's dedup key. Gemini CLI's `prompt_id` was stored as the request id, but one
prompt can make several requests, so those ids are cleared first.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TOKENS = (
    "input_tokens + cache_read_tokens + cache_write_5m_tokens + cache_write_1h_tokens"
    " + output_tokens + reasoning_tokens"
)


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _create_crosscheck_tables(inspector: sa.Inspector) -> None:
    # Older servers created these tables at run time, so they may exist already.
    if not inspector.has_table("otlp_counter_series"):
        op.create_table(
            "otlp_counter_series",
            sa.Column("series_key", sa.String(64), primary_key=True),
            sa.Column("metric", sa.String(200), nullable=False),
            sa.Column("start_time", _utc()),
            sa.Column("last_time", _utc(), nullable=False),
            sa.Column("last_tokens", sa.BigInteger),
            sa.Column("last_cost", sa.BigInteger),
        )
    if not inspector.has_table("otlp_counter_increments"):
        op.create_table(
            "otlp_counter_increments",
            sa.Column("point_key", sa.String(200), primary_key=True),
            sa.Column("tool", sa.String(50), nullable=False),
            sa.Column("metric", sa.String(200), nullable=False),
            sa.Column("token_type", sa.String(50)),
            sa.Column("session_id", sa.String(200)),
            sa.Column("model", sa.String(200)),
            sa.Column("engineer", sa.String(320)),
            sa.Column("team", sa.String(200)),
            sa.Column("organization", sa.String(200)),
            sa.Column("time", _utc(), nullable=False),
            sa.Column("tokens", sa.BigInteger),
            sa.Column("cost", sa.BigInteger),
            sa.Column("received_at", _utc(), nullable=False),
        )
        op.create_index(
            "ix_otlp_counter_increments_session",
            "otlp_counter_increments",
            ["tool", "session_id", "model"],
        )


def _merge_duplicate_requests(connection: sa.Connection) -> None:
    groups = connection.execute(
        sa.text(
            "SELECT tool, request_id FROM usage_records WHERE request_id IS NOT NULL"
            " GROUP BY tool, request_id HAVING COUNT(*) > 1"
        )
    ).all()
    for tool, request_id in groups:
        rows = connection.execute(
            sa.text(
                f"SELECT id, dedup_key, source, {TOKENS} AS tokens, reported_cost"
                " FROM usage_records WHERE tool = :tool AND request_id = :request_id"
            ),
            {"tool": tool, "request_id": request_id},
        ).all()
        rank = {row.id: 0 if row.source == "otlp" else 1 for row in rows}
        keep = max(rows, key=lambda row: (row.tokens, rank[row.id], -row.id))
        others = [row for row in rows if row.id != keep.id]
        cost = keep.reported_cost
        if cost is None:
            cost = next(
                (row.reported_cost for row in others if row.reported_cost is not None), None
            )
        log = next((row for row in rows if rank[row.id] == 1), keep)

        connection.execute(
            sa.text("DELETE FROM usage_records WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": [row.id for row in others]},
        )
        connection.execute(
            sa.text(
                "UPDATE usage_records SET reported_cost = :cost, dedup_key = :key WHERE id = :id"
            ),
            {"cost": cost, "key": log.dedup_key, "id": keep.id},
        )


def upgrade() -> None:
    connection = op.get_bind()
    _create_crosscheck_tables(sa.inspect(connection))

    connection.execute(
        sa.text("UPDATE usage_records SET request_id = NULL WHERE tool = 'gemini_cli'")
    )
    _merge_duplicate_requests(connection)
    op.create_index(
        "uq_usage_records_tool_request", "usage_records", ["tool", "request_id"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_usage_records_tool_request", table_name="usage_records")
    op.drop_index("ix_otlp_counter_increments_session", table_name="otlp_counter_increments")
    op.drop_table("otlp_counter_increments")
    op.drop_table("otlp_counter_series")
