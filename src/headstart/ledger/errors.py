"""Errors of the ledger, under Headstart's roots.

LedgerError (HeadstartError)     the ledger database failed or is at an unknown revision
LedgerInputError (InputError)    a log file, price file, teams file or option value is unusable

Each message names the input and the fix.
"""

from __future__ import annotations

from headstart.errors import HeadstartError, InputError


class LedgerError(HeadstartError):
    """The ledger database cannot be opened, migrated or written."""


class LedgerInputError(InputError):
    """A file or value given to the ledger cannot be used."""
