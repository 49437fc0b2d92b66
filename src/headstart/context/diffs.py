"""Reading the file paths a unified diff changes."""

from __future__ import annotations

import re

from headstart.errors import InputError

_HEADER = re.compile(r"^(?:---|\+\+\+) (?:\"?)(?P<path>[^\t\"]+)")
_GIT_HEADER = re.compile(r"^diff --git \"?a/(?P<old>.+?)\"? \"?b/(?P<new>.+?)\"?$")


def files_in_diff(diff: str) -> list[str]:
    """Return the paths a unified diff (git's or plain `diff -u`) adds, changes or deletes.

    Raises InputError when the text contains no file header, so a wrong input is not read as
    "this change touches nothing".
    """
    found: dict[str, None] = {}
    for line in diff.splitlines():
        git = _GIT_HEADER.match(line)
        if git:
            found.setdefault(git["new"], None)
            continue
        header = _HEADER.match(line)
        if header:
            path = header["path"].strip()
            if path == "/dev/null":
                continue
            if path.startswith(("a/", "b/")):
                path = path[2:]
            found.setdefault(path, None)
    if not found:
        raise InputError(
            "the diff names no files: expected a unified diff with '--- a/PATH' and '+++ b/PATH' "
            "headers, as `git diff` prints"
        )
    return list(found)
