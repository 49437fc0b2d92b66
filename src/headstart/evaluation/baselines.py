"""Baseline rankers the brief is compared with: BM25 over contents, BM25 over commit messages, recency.

Each ranker reads only what existed at the cut, and returns at most `DEPTH` files for a task text.
BM25 comes from the `bm25s` package with its default parameters (Lucene variant, k1=1.5, b=0.75).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import bm25s
import numpy as np
import pygit2

from headstart.context.history import MAX_FILES_PER_CHANGE, HistoryView
from headstart.context.words import tokenize
from headstart.evaluation.metrics import DEPTH
from headstart.indexers.pipeline import tracked_files
from headstart.indexers.repository import text_blobs

logger = logging.getLogger("headstart.evaluation")


class BM25Ranker:
    """Rank named documents (files) by BM25 against a task text."""

    name = "bm25"

    def __init__(self, documents: dict[str, list[str]]) -> None:
        self.paths = [path for path, tokens in documents.items() if tokens]
        self._index = bm25s.BM25()
        if self.paths:
            self._index.index([documents[path] for path in self.paths], show_progress=False)

    def rank(self, text: str) -> list[str]:
        query = tokenize(text)
        if not self.paths or not query:
            return []
        scores = np.asarray(self._index.get_scores(query))
        order = np.argsort(-scores, kind="stable")[:DEPTH]
        # A file that shares no word with the task has no evidence for it, so it is not ranked.
        return [self.paths[position] for position in order if scores[position] > 0]


class FileContentRanker(BM25Ranker):
    """BM25 over each file's path and text at the cut; binary files, files over 1 MiB and files whose contents are missing are left out."""

    name = "bm25_contents"

    def __init__(self, repo: pygit2.Repository, commit: pygit2.Commit) -> None:
        documents: dict[str, list[str]] = {}
        skipped = 0
        for path, data in text_blobs(commit, tracked_files(commit)):
            if data is None:
                skipped += 1
                continue
            text = data.decode("utf-8", errors="replace")
            documents[path] = tokenize(path) + tokenize(text)
        logger.debug("contents baseline: %d files, %d binary, large or missing ones left out", len(documents), skipped)
        super().__init__(documents)


class CommitMessageRanker(BM25Ranker):
    """BM25 over past commit messages, one document per file joining the messages of the commits that changed it."""

    name = "bm25_messages"

    def __init__(self, view: HistoryView) -> None:
        documents: dict[str, list[str]] = {}
        for path in _existing(view, view.by_file):
            tokens: list[str] = []
            for change in view.commits_touching(path):
                # Commits touching many files carry no signal about any one of them, as in the brief's own ranking.
                if len(change.files) <= MAX_FILES_PER_CHANGE:
                    tokens += tokenize(f"{change.title}\n{change.body}")
            documents[path] = tokens
        super().__init__(documents)


class RecentRanker:
    """The files changed most recently before the cut, whatever the task."""

    name = "recent"

    def __init__(self, view: HistoryView) -> None:
        last = {path: view.commits_touching(path)[0].created_at for path in _existing(view, view.by_file)}
        self._ranking = [path for path, _ in sorted(last.items(), key=lambda item: (-item[1].timestamp(), item[0]))][:DEPTH]

    def rank(self, text: str) -> list[str]:
        return list(self._ranking)


def _existing(view: HistoryView, paths: Iterable[str]) -> Sequence[str]:
    return sorted(path for path in paths if view.exists(path))
