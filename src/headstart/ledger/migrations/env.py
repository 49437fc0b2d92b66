"""Alembic environment: runs on the connection `headstart.ledger.db` hands over.

There is no alembic.ini; `db.alembic_config` builds the configuration in code, so the
migrations run the same from a source checkout and from an installed wheel.
"""

from __future__ import annotations

from alembic import context

from headstart.ledger.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the ledger migrations need a connection; run them with `headstart ledger migrate`"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
