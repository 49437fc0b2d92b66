"""Checkpoints of tracker sources, so the next run fetches only what changed.

They live in the store (`StoreCheckpoints`). Earlier versions wrote them to a JSON file in the
local data directory (`Checkpoints`), which is still read as a fallback.

A checkpoint is written only after the records it covers are stored, so a run that fails
between the two fetches some items again instead of skipping them.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from headstart.indexers.trackers.http import TrackerError
from headstart.store import Store
from headstart.store.checkpoints import tracker_checkpoint_prefixes

logger = logging.getLogger("headstart.indexers.trackers")

_LOCK = threading.Lock()


class Checkpoints:
    """Checkpoint values (ISO 8601 times) by source name, in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrackerError(
                f"the tracker checkpoint file {str(self.path)!r} is unreadable ({exc}); "
                "delete it to fetch everything again"
            ) from exc
        return {str(key): str(value) for key, value in data.items()} if isinstance(data, dict) else {}

    def get(self, source: str) -> str | None:
        return self._read().get(source)

    def set(self, source: str, value: str) -> None:
        """Record `value` for `source`, replacing the file atomically."""
        with _LOCK:
            data = self._read()
            data[source] = value
            self._replace(data)
        logger.debug("checkpoint %s = %s", source, value)

    def delete_prefixed(self, prefixes: tuple[str, ...]) -> list[str]:
        """Remove the sources starting with one of `prefixes`; return them."""
        with _LOCK:
            data = self._read()
            removed = sorted(source for source in data if source.startswith(prefixes))
            if removed:
                self._replace({source: value for source, value in data.items() if source not in removed})
        return removed

    def _replace(self, data: dict[str, str]) -> None:
        """Write `data` to a temporary file and move it over the file, so a reader never sees half."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)


class StoreCheckpoints(Checkpoints):
    """Checkpoints kept in the store, so any machine's next run continues where the last one stopped.

    A value missing from the store is looked up in the JSON file that earlier versions wrote in
    the data directory. Indexing only reads that file; `forget_legacy_checkpoints` removes a
    forgotten repository's entries from it.
    """

    def __init__(self, store: Store, legacy: Path | None = None) -> None:
        super().__init__(legacy or Path(os.devnull))
        self.store = store
        self._legacy = legacy

    def get(self, source: str) -> str | None:
        value = self.store.checkpoints.get(source)
        if value is None and self._legacy is not None and self._legacy.is_file():
            value = super().get(source)
        return value

    def set(self, source: str, value: str) -> None:
        self.store.checkpoints.set(source, value)
        logger.debug("checkpoint %s = %s", source, value)


def legacy_path(data_dir: Path) -> Path:
    return data_dir / "trackers" / "checkpoints.json"


def default_checkpoints(store: Store, data_dir: Path | None = None) -> StoreCheckpoints:
    """Checkpoints of `store`, falling back to the JSON file older runs left in `data_dir`."""
    return StoreCheckpoints(store, legacy_path(data_dir) if data_dir is not None else None)


def forget_legacy_checkpoints(data_dir: Path, repo: str) -> list[str]:
    """Remove `repo`'s entries from the JSON file older runs left in `data_dir`; return their sources.

    Without this, indexing a forgotten repository's tracker again would resume from the old
    file's checkpoint and skip everything updated before it.
    """
    path = legacy_path(data_dir)
    if not path.is_file():
        return []
    return Checkpoints(path).delete_prefixed(tracker_checkpoint_prefixes(repo))
