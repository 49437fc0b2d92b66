"""Files given on the command line, as a user types them: from the root, from a subfolder,
absolute, through a symlink, or wrong. A wrong one stops the command with exit code 2 and a line
that names it, instead of being dropped without a word."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
from tests.conftest import GitRepo

from headstart.cli.app import main
from headstart.indexers.pipeline import index_repository
from headstart.store import Embedder, Store

pytestmark = pytest.mark.slow

TASK = "make the size filter accept kibibytes"


class Checkout:
    """An indexed repository, with folders to run the CLI from."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "repo"
        self.store = base / "store"
        self.link = base / "link"  # a symlink to the repository's folder
        self.outside = base / "outside.txt"  # a file next to the repository, not in it

    def folder(self, name: str) -> Path:
        return {"outside": self.base, "root": self.root, "src": self.root / "src"}[name]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Checkout:
    checkout = Checkout(tmp_path_factory.mktemp("paths"))
    checkout.root.mkdir()
    repo = GitRepo(checkout.root)
    repo.git("init", "-q", "-b", "main")
    repo.commit(
        "Add the size filter and the walker",
        {
            "src/filter/size.rs": "pub fn size() {}\n",
            "src/filter/mod.rs": "mod size;\n",
            "src/walk.rs": "pub fn walk() {}\n",
            "src/job.rs": "pub fn job() {}\n",
            "src/old.rs": "pub fn old() {}\n",
            "README.md": "fd\n",
            ".gitignore": "target/\n",
            ".github/workflows/ci.yml": "on: push\n",
        },
    )
    for number in range(3):
        repo.commit(
            f"Parse size units in the size filter, step {number}",
            {"src/filter/size.rs": f"pub fn size() {{ {number} }}\n", "src/walk.rs": f"// {number}\n"},
        )
    repo.commit("Remove the old helper", {"src/old.rs": None})
    repo.commit("Rename the job runner", {"src/job.rs": None, "src/jobs.rs": "pub fn job() {}\n"})
    index_repository(Store(str(checkout.store), embedder), checkout.root)

    # Not committed: a new file the task starts from, and a build output git ignores.
    repo.write("src/new.rs", "pub fn new() {}\n")
    repo.write("target/debug/out.rs", "generated\n")
    checkout.link.symlink_to(checkout.root, target_is_directory=True)
    checkout.outside.write_text("not in the repository\n")
    return checkout


@pytest.fixture
def cli(
    checkout: Checkout,
    embedder: Embedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    """Run `headstart ARGS…` in process from a folder; return the exit code, stdout and stderr."""
    # The CLI would load the model again for each command; the test's copy is the same model.
    monkeypatch.setattr("headstart.service.Embedder", lambda *args, **kwargs: embedder)
    monkeypatch.setenv("HEADSTART_DATA_DIR", str(checkout.base / "data"))

    def run(folder: str, *arguments: str) -> tuple[int, str, str]:
        monkeypatch.chdir(checkout.folder(folder))
        # Outside the repository the CLI cannot tell which repository is meant.
        repo = ["--repo", str(checkout.root)] if folder == "outside" else []
        monkeypatch.setattr(sys, "argv", ["headstart", *arguments, *repo, "--db", str(checkout.store)])
        capsys.readouterr()
        # The CLI sets the root logger up for itself; later tests get pytest's back.
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            main()
            code = 0
        except SystemExit as exited:
            code = exited.code or 0
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
        captured = capsys.readouterr()
        return int(code), captured.out, captured.err

    return run


def given(stdout: str) -> list[str]:
    """The likely files of a JSON brief that it marks as given with the task."""
    brief = json.loads(stdout)
    return [item["path"] for item in brief["likely_files"] if "given with the task" in item["reasons"]]


@pytest.mark.parametrize(
    ("folder", "path", "expected"),
    [
        ("outside", "src/filter/size.rs", "src/filter/size.rs"),
        ("outside", "{root}/src/filter/size.rs", "src/filter/size.rs"),
        ("outside", "{link}/src/filter/size.rs", "src/filter/size.rs"),
        ("outside", "{root}/src/../src/walk.rs", "src/walk.rs"),
        ("src", "filter/size.rs", "src/filter/size.rs"),
        ("src", "src/filter/size.rs", "src/filter/size.rs"),
        ("src", "./walk.rs", "src/walk.rs"),
        ("src", "../README.md", "README.md"),
        ("root", "./src/walk.rs", "src/walk.rs"),
        ("root", ".github/workflows/ci.yml", ".github/workflows/ci.yml"),
        ("root", "src/job.rs", "src/jobs.rs"),
    ],
)
def test_brief_file_path_forms_accepted(
    cli, checkout: Checkout, folder: str, path: str, expected: str
) -> None:
    argument = path.format(root=checkout.root, link=checkout.link)

    code, out, err = cli(folder, "brief", TASK, "--file", argument, "--json")

    assert code == 0, err
    assert given(out) == [expected]


def test_brief_new_file_accepted(cli) -> None:
    code, out, err = cli("src", "brief", TASK, "--file", "new.rs", "--json", "-v")

    assert code == 0, err
    assert json.loads(out)["task"] == TASK
    assert "src/new.rs is not at the indexed head" in err


@pytest.mark.parametrize(
    ("folder", "path", "message"),
    [
        (
            "root",
            "src/filter/nope.rs",
            (
                "'src/filter/nope.rs' is not a file of {root}: neither the indexed head nor the "
                "working tree has 'src/filter/nope.rs'; give the path relative to the "
                "repository's root, or absolute (`git ls-files` lists the files)"
            ),
        ),
        ("src", "filter/nope.rs", "has 'filter/nope.rs' or 'src/filter/nope.rs';"),
        ("outside", "{root}/src/nope.rs", "'{root}/src/nope.rs' is not a file of {root}"),
        (
            "outside",
            "{outside}",
            (
                "'{outside}' is outside the repository {root}; give a path inside {root}, "
                "relative to its root or absolute"
            ),
        ),
        ("root", "../outside.txt", "'../outside.txt' is outside the repository {root}"),
        ("root", "target/debug/out.rs", "'target/debug/out.rs' is not a file of {root}"),
        ("root", ".git/config", "'.git/config' is not a file of {root}"),
        ("src", "filter", "'filter' is a folder of {root}, not a file; name a file in it (`git ls-files src/filter`"),
        ("root", "", "a file path is empty"),
    ],
)
def test_brief_bad_path_rejected(
    cli, checkout: Checkout, folder: str, path: str, message: str
) -> None:
    names = {"root": checkout.root, "outside": checkout.outside}

    code, out, err = cli(folder, "brief", TASK, "--file", path.format(**names), "--json")

    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert message.format(**names) in err


def test_history_path_forms_accepted(cli, checkout: Checkout) -> None:
    absolute = cli("outside", "history", str(checkout.root / "src/walk.rs"))
    from_subfolder = cli("src", "history", "walk.rs")
    deleted = cli("root", "history", "src/old.rs")

    for code, out, err in (absolute, from_subfolder):
        assert code == 0, err
        assert out.startswith("# History of `src/walk.rs`")
        assert "1–4 of 4 changes" in out
    # A deleted file keeps its history.
    assert deleted[0] == 0, deleted[2]
    assert "_The file does not exist at the indexed head._" in deleted[1]
    assert '"Remove the old helper"' in deleted[1]


@pytest.mark.parametrize(
    ("folder", "path", "message"),
    [
        ("src", "nope.rs", "'nope.rs' has no history in {root} and is not a file of it"),
        ("outside", "{outside}", "'{outside}' is outside the repository {root}"),
        ("src", "new.rs", "'src/new.rs' has no history in {root} yet: it is in the working tree"),
    ],
)
def test_history_bad_path_rejected(
    cli, checkout: Checkout, folder: str, path: str, message: str
) -> None:
    names = {"root": checkout.root, "outside": checkout.outside}

    code, out, err = cli(folder, "history", path.format(**names))

    assert code == 2
    assert out == ""
    assert message.format(**names) in err


def test_check_file_paths_resolved(cli, checkout: Checkout) -> None:
    code, out, err = cli(
        "src", "check", "filter/size.rs", "--file", str(checkout.root / "src/walk.rs"), "--format", "json"
    )
    missing = cli("src", "check", "filter/nope.rs")

    assert code == 0, err
    assert json.loads(out)["changed_files"] == ["src/filter/size.rs", "src/walk.rs"]
    assert missing[0] == 2
    assert "'filter/nope.rs' is not a file of" in missing[2]
