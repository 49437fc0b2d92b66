"""A git repository whose history matches the tracker replies the tests serve."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from headstart.indexers.pipeline import index_repository

REPO = "github.com/acme/widgets"


@dataclass
class Widgets:
    """Shas of the commits that pull requests #5 (squash), #7 (rebase) and #9 (merge) landed."""

    path: object
    squash: str
    rebase_first: str
    rebase_last: str
    merge: str


@pytest.fixture
def widgets(git_repo, store) -> Widgets:
    repo = git_repo
    repo.git("remote", "add", "origin", "https://github.com/acme/widgets.git")
    repo.commit("Add parser", {"src/parser.py": "def parse(text):\n    return text.split()\n", "README.md": "widgets\n"})
    squash = repo.commit(
        "Handle empty input (#5)\n\nFixes #3",
        {"src/parser.py": "def parse(text):\n    return text.split() if text else []\n", "tests/test_parser.py": "def test_empty():\n    pass\n"},
    )
    rebase_first = repo.commit("Add tokenizer", {"src/tokens.py": "def tokens(text):\n    return text.split()\n"})
    rebase_last = repo.commit("Use tokenizer in parser", {"src/parser.py": "from tokens import tokens\n"})
    repo.git("checkout", "-q", "-b", "stream")
    repo.commit("Stream output", {"src/output.py": "def write():\n    pass\n"})
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "stream", "-m", "Merge pull request #9 from acme/stream\n\nStream output")
    merge = repo.head()
    index_repository(store, repo.path, workers=1)
    return Widgets(path=repo.path, squash=squash, rebase_first=rebase_first, rebase_last=rebase_last, merge=merge)
