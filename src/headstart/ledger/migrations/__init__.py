"""Alembic migrations of the ledger database, run from code by `headstart.ledger.db`."""

# The newest migration's revision. A current ledger then opens with one query and without
# importing Alembic, which takes about a second. A test checks that it matches Alembic's head.
SCHEMA_REVISION = "0004"
