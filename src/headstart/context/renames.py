"""Following files across renames, so that their history before a move still counts.

Flask moved `flask/app.py` to `src/flask/app.py` in 2019. The commits before the move name the
old path, which no longer exists, so without this they counted for nothing in `src/flask/app.py`.

A commit indexed with `--renames` records each rename (status R with the old path). Without
it, git shows a rename as a deleted and an added file. Such a pair counts as a rename when both
have the same file name and, among the added files of that name, one shares the most trailing
folders with the deleted file (`flask/json/__init__.py` went to `src/flask/json/__init__.py`,
not to `src/flask/__init__.py`). Contents are not compared, so this works on partial clones
and on stores indexed before.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable


def renames_in(changes_json: str) -> list[tuple[str, str]]:
    """Return the (old path, new path) pairs that one commit's file changes show."""
    if '"D"' not in changes_json and '"R"' not in changes_json:
        return []
    changes = json.loads(changes_json or "[]")

    pairs = [
        (change["old_path"], change["path"])
        for change in changes
        if change.get("status") == "R" and change.get("old_path")
    ]
    deleted = [change["path"] for change in changes if change.get("status") == "D"]
    added: dict[str, list[str]] = defaultdict(list)
    for change in changes:
        if change.get("status") == "A":
            added[_name(change["path"])].append(change["path"])
    for old in deleted:
        new = _closest(old, added.get(_name(old), []))
        if new is not None:
            pairs.append((old, new))
    return pairs


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _closest(old: str, candidates: list[str]) -> str | None:
    """Pick the added path sharing the most trailing folders with `old`, if exactly one does."""
    if not candidates:
        return None
    old_parts = old.split("/")[::-1]
    scored = [(_shared_tail(old_parts, path.split("/")[::-1]), path) for path in candidates]
    best = max(score for score, _ in scored)
    winners = [path for score, path in scored if score == best]
    return winners[0] if len(winners) == 1 else None


def _shared_tail(left: list[str], right: list[str]) -> int:
    count = 0
    for a, b in zip(left, right, strict=False):
        if a != b:
            break
        count += 1
    return count


def current_names(
    renames: Iterable[tuple[str, str]], exists: Callable[[str], bool]
) -> dict[str, str]:
    """Map each renamed path that no longer exists to the existing path it became.

    `renames` come oldest first. A path renamed again later follows the chain to its last
    name. A path that exists again (re-created after its move) keeps its own history.
    """
    renamed: dict[str, str] = {}
    for old, new in renames:
        if old != new:
            renamed[old] = new

    aliases: dict[str, str] = {}
    for old, first in renamed.items():
        if exists(old):
            continue
        name, seen = first, {old}
        while name in renamed and name not in seen and not exists(name):
            seen.add(name)
            name = renamed[name]
        if exists(name):
            aliases[old] = name
    return aliases
