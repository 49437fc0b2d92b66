"""Ranking files by the words of their past commit messages and their paths.

Each file is one document: the words of its path, counted twice, and the messages of the commits
that changed it. The task "fix the glob matcher" then finds the file whose history often mentions
globs, even when no single past change is close to the task in meaning. BM25 comes
from the `bm25s` package with its default parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np

from headstart.context.words import tokenize

logger = logging.getLogger("headstart.context")

# Path words count twice: a file named for the task's subject is the strongest lexical hint.
PATH_REPEAT = 2


class FileMessageIndex:
    """BM25 over one document per file, built once per history view."""

    def __init__(self, documents: dict[str, list[str]]) -> None:
        # Imported on first use: bm25s loads SciPy, which commands that never brief need not pay for.
        import bm25s

        self.paths = [path for path, tokens in documents.items() if tokens]
        self._index = bm25s.BM25()
        if self.paths:
            self._index.index([documents[path] for path in self.paths], show_progress=False)

    @classmethod
    def from_messages(cls, files: Iterable[tuple[str, Iterable[str]]]) -> FileMessageIndex:
        """Build the index from (path, messages of the commits that changed it) pairs."""
        documents: dict[str, list[str]] = {}
        for path, messages in files:
            tokens = tokenize(path.replace("/", " ")) * PATH_REPEAT
            for message in messages:
                tokens += tokenize(message)
            documents[path] = tokens
        logger.debug("lexical index over %d files", len(documents))
        return cls(documents)

    def rank(self, text: str, limit: int) -> list[str]:
        """Return up to `limit` files, best first; a file sharing no word with `text` is left out."""
        query = tokenize(text)
        if not self.paths or not query:
            return []
        scores = np.asarray(self._index.get_scores(query))
        order = np.argsort(-scores, kind="stable")[:limit]
        return [self.paths[position] for position in order if scores[position] > 0]
