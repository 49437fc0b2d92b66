"""Wording helpers for messages that users read."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """Return `count` with `noun` in the number it needs: "1 commit", "2,048 commits"."""
    word = noun if count == 1 else (plural or f"{noun}s")
    return f"{count:,} {word}"
