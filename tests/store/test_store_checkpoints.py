"""Tracker checkpoints kept in the store, so a run on any machine continues where the last stopped."""

from __future__ import annotations

import json
from pathlib import Path

from headstart.indexers.trackers.checkpoints import default_checkpoints
from headstart.store import Embedder, Store

SOURCE = "github:github.com/acme/api@s3://bucket/headstart"


def test_checkpoint_shared_between_machines(bucket, tmp_path: Path) -> None:
    first_machine = default_checkpoints(
        bucket.store(Embedder("all-MiniLM-L6-v2")), tmp_path / "first"
    )
    second_machine = default_checkpoints(
        bucket.store(Embedder("all-MiniLM-L6-v2")), tmp_path / "second"
    )
    assert second_machine.get(SOURCE) is None

    first_machine.set(SOURCE, "2024-01-02T00:00:00Z")
    first_machine.set(SOURCE, "2024-03-04T00:00:00Z")

    assert second_machine.get(SOURCE) == "2024-03-04T00:00:00Z"
    assert not (tmp_path / "first").exists(), "the checkpoint was written to the local disk"


def test_legacy_checkpoint_file_only_read(tmp_path: Path) -> None:
    legacy = tmp_path / "data" / "trackers" / "checkpoints.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({SOURCE: "2023-12-31T00:00:00Z"}))
    checkpoints = default_checkpoints(
        Store(str(tmp_path / "store"), Embedder("all-MiniLM-L6-v2")), tmp_path / "data"
    )

    assert checkpoints.get(SOURCE) == "2023-12-31T00:00:00Z"
    checkpoints.set(SOURCE, "2024-01-02T00:00:00Z")

    assert checkpoints.get(SOURCE) == "2024-01-02T00:00:00Z"
    assert json.loads(legacy.read_text()) == {SOURCE: "2023-12-31T00:00:00Z"}
