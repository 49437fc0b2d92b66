"""The result of an ingest: counts, unpriced models, and the input it skipped."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field

MAX_EXAMPLES = 5


class IngestReport(BaseModel):
    """Counts from one or more ingests. `merge` adds another report into this one."""

    events: int = Field(default=0, description="Usage events handed to the ledger.")
    inserted: int = Field(default=0, description="New usage records.")
    updated: int = Field(default=0, description="Records replaced by a more complete snapshot.")
    duplicates: int = Field(default=0, description="Events already recorded, changing nothing.")
    unpriced: int = Field(default=0, description="Events whose cost could not be computed.")
    unpriced_models: dict[str, int] = Field(default_factory=dict)
    brief_links: int = Field(default=0, description="Session-to-brief links seen.")
    files_read: int = 0
    files_unchanged: int = Field(default=0, description="Files skipped because nothing was added.")
    bytes_read: int = 0
    skipped: dict[str, int] = Field(default_factory=dict, description="Skipped input by reason.")
    examples: list[str] = Field(default_factory=list, description="First skipped inputs.")

    def skip(self, reason: str, where: str) -> None:
        """Count one skipped input, keeping the first few as examples."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{where}: {reason}")

    def count_unpriced(self, model: str | None) -> None:
        self.unpriced += 1
        key = model or "(no model)"
        self.unpriced_models[key] = self.unpriced_models.get(key, 0) + 1

    def merge(self, other: IngestReport) -> None:
        for name in (
            "events",
            "inserted",
            "updated",
            "duplicates",
            "unpriced",
            "brief_links",
            "files_read",
            "files_unchanged",
            "bytes_read",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.unpriced_models = dict(Counter(self.unpriced_models) + Counter(other.unpriced_models))
        self.skipped = dict(Counter(self.skipped) + Counter(other.skipped))
        room = MAX_EXAMPLES - len(self.examples)
        self.examples.extend(other.examples[: max(room, 0)])

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())
