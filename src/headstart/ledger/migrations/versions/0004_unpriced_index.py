"""Index the unpriced usage requests, so reports can name them beside their costs.

A partial index: it holds only the requests whose model had no price, usually none.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_usage_records_unpriced",
        "usage_records",
        ["timestamp"],
        sqlite_where=sa.text("priced = 0"),
        postgresql_where=sa.text("priced = false"),
    )


def downgrade() -> None:
    op.drop_index("ix_usage_records_unpriced", table_name="usage_records")
