"""Alembic migrations of the ledger database, run from code by `headstart.ledger.db`."""
