"""Ranking files by the code identifiers a task names.

The task "Allow Response subclasses to set default_mimetype as None" names
`default_mimetype`, and the files that contain that name are where the change goes, even when
their history never used the words. Only names that read as code count: in backticks, with an
inner underscore or capital, or joined by dots. A command-line flag such as `--changed-within`
stands for the name `changed_within`, which is how code that parses it usually spells it.
Plain words are the lexical ranking's job.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BACKTICKED = re.compile(r"`([^`\n]{1,200})`")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
_INNER_CAPITAL = re.compile(r"[a-z0-9][A-Z]")
# A long option of two words or more: --changed-within, --no-ignore-vcs.
_LONG_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)+)\b")
MIN_LENGTH = 3
# A name found in more than this share of the files points nowhere in particular.
MAX_FILE_SHARE = 0.2


def task_identifiers(text: str) -> list[str]:
    """Return the names in `text` that read as code, in order of first appearance."""
    found: dict[str, None] = {}
    for span in _BACKTICKED.findall(text):
        for name in _IDENTIFIER.findall(span):
            found.setdefault(name, None)
    for dotted in _DOTTED.findall(text):
        # "e.g." and file names such as "setup.py" are dotted too; their parts are filtered below.
        for name in dotted.split("."):
            found.setdefault(name, None)
    for name in _IDENTIFIER.findall(text):
        if "_" in name.strip("_") or _INNER_CAPITAL.search(name):
            found.setdefault(name, None)
    for flag in _LONG_FLAG.findall(text):
        found.setdefault(flag.replace("-", "_"), None)
    return [name for name in found if len(name) >= MIN_LENGTH and not name.isdigit()]


class IdentifierIndex:
    """An inverted index from identifier to the files containing it, built once per history view."""

    def __init__(self, files: dict[str, list[str]]) -> None:
        self.file_count = len(files)
        self._files_of: dict[str, list[str]] = defaultdict(list)
        for path, names in files.items():
            for name in names:
                self._files_of[name].append(path)

    def rank(self, text: str, limit: int) -> list[tuple[str, list[str]]]:
        """Return up to `limit` (file, names it contains) pairs, the rarest names weighing most."""
        scores: dict[str, float] = defaultdict(float)
        matched: dict[str, list[str]] = defaultdict(list)
        for name in task_identifiers(text):
            paths = self._files_of.get(name)
            # A name in one file always counts, however few files there are.
            if not paths or len(paths) > max(MAX_FILE_SHARE * self.file_count, 1):
                continue
            weight = math.log(self.file_count / len(paths))
            for path in paths:
                scores[path] += weight
                matched[path].append(name)
        ranked = sorted(scores, key=lambda path: (-scores[path], path))[:limit]
        return [(path, matched[path]) for path in ranked]
