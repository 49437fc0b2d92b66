"""Collect the identifiers each file contains at the indexed head."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import pygit2

from headstart.indexers.repository import text_blobs

logger = logging.getLogger("headstart.indexers")

# Names of three characters or more: shorter ones (`id`, `fn`) match too many files to point anywhere.
IDENTIFIER = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{2,}")
# NOTE: a file with more distinct names keeps the first ones it uses. Generated files and
# data dumps are the usual such files, and a task rarely names what only they contain.
MAX_IDENTIFIERS_PER_FILE = 5000


def file_identifiers(commit: pygit2.Commit, paths: Iterable[str]) -> dict[str, list[str]]:
    """Return the distinct identifiers of each text file in `paths` at `commit`.

    Binary files, files over 1 MiB and files whose contents a partial clone lacks are left out.
    """
    found: dict[str, list[str]] = {}
    for path, data in text_blobs(commit, paths):
        if data is None:
            continue
        names = dict.fromkeys(IDENTIFIER.findall(data))
        found[path] = [name.decode("ascii") for name in list(names)[:MAX_IDENTIFIERS_PER_FILE]]
    logger.debug("identifiers of %d files", len(found))
    return found
