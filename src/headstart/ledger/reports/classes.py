"""The vocabulary of outcomes: types of work and the classes work is sorted into."""

from __future__ import annotations

from enum import StrEnum


class WorkType(StrEnum):
    FEATURE = "feature"
    BUGFIX = "bugfix"
    REFACTOR = "refactor"
    TEST = "test"
    DOCS = "docs"
    CHORE = "chore"


class Classification(StrEnum):
    """How a session or task is judged.

    productive: its work merged and stayed. inefficient: it merged and stayed, at a cost it
    should not have had. wasteful: abandoned, reverted or stuck in a loop. pending: its
    commits have not merged yet and the rework window is still open, so it is not judged yet.
    """

    PRODUCTIVE = "productive"
    INEFFICIENT = "inefficient"
    WASTEFUL = "wasteful"
    PENDING = "pending"


# Work that merged and stayed, whatever it cost.
SUCCESSFUL = (Classification.PRODUCTIVE.value, Classification.INEFFICIENT.value)
