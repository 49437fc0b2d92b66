"""Time the derived co-change tables: a full recount, and the update for one new commit.

    python benchmarks/co_change.py REPO --db STORE_URI

REPO must already be indexed into STORE_URI (for example by benchmarks/index_and_brief.py). The
reference in the same run is `git log --name-only`, the cheapest way to read which files each
commit touched. The one-commit update is measured on a copy of the tables, so the store keeps
its counts.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from headstart.indexers.pipeline import rebuild_stats
from headstart.indexers.repository import open_repository
from headstart.store import Embedder, Store
from headstart.store.stats import CommitFacts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()

    started = time.perf_counter()
    subprocess.run(["git", "-C", str(args.repo), "log", "--name-only", "--format=%H"], stdout=subprocess.DEVNULL, check=True)
    git_seconds = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "store"
        shutil.copytree(args.db, copy)
        store = Store(str(copy), Embedder("all-MiniLM-L6-v2"))
        name = open_repository(args.repo).name
        commits = len(store.keys(name, "commit"))

        started = time.perf_counter()
        rebuild_stats(store, name, 30)
        rebuild_seconds = time.perf_counter() - started
        pairs = store._db.open_table("co_changes").count_rows()

        files = sorted(store.head_files(name) or [])[:3]
        timings = []
        for number in range(5):
            commit = CommitFacts(
                sha=f"{number:040d}",
                files=tuple(files),
                created_at=datetime.now(timezone.utc),
                author="Bench <bench@example.com>",
                is_fix=False,
                is_revert=False,
            )
            started = time.perf_counter()
            store.stats.apply(name, [commit], 30, total_after=commits + number + 1)
            timings.append(time.perf_counter() - started)

    print(
        json.dumps(
            {
                "repo": str(args.repo),
                "commits": commits,
                "co_change_pairs": pairs,
                "git_log_name_only_seconds": round(git_seconds, 2),
                "full_recount_seconds": round(rebuild_seconds, 2),
                "ratio_to_git_log": round(rebuild_seconds / git_seconds, 2),
                "one_commit_of_3_files_seconds": [round(value, 3) for value in timings],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
