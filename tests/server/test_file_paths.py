"""Files named in a REST request or an MCP tool call. A path that is no file of the repository is
an error that names it, and an absolute path inside the repository is read from its root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from tests.conftest import GitRepo

from headstart.config import Settings
from headstart.errors import InputError
from headstart.indexers.pipeline import index_repository
from headstart.server.app import build_app
from headstart.server.tools import build_server
from headstart.service import Headstart
from headstart.store import Embedder, Store
from server.conftest import IndexedRepo

pytestmark = pytest.mark.slow

TASK = "add retry with backoff to the HTTP client"


@pytest.fixture(scope="module")
def client(indexed: IndexedRepo) -> Iterator[TestClient]:
    app = build_app(indexed.settings, indexed.headstart(), repo=str(indexed.path))
    with TestClient(app, base_url="http://127.0.0.1:8787") as test_client:
        yield test_client


def test_rest_absolute_path_accepted(client: TestClient, indexed: IndexedRepo) -> None:
    response = client.post(
        "/v1/briefs", json={"task": TASK, "files": [str(indexed.path / "src/http/pool.py")]}
    )

    assert response.status_code == 200, response.text
    anchors = [
        item["path"]
        for item in response.json()["likely_files"]
        if "given with the task" in item["reasons"]
    ]
    assert anchors == ["src/http/pool.py"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "src/http/nope.py",
            (
                "'src/http/nope.py' is not a file of {root}: neither the indexed head nor the "
                "working tree has 'src/http/nope.py'; give the path relative to the "
                "repository's root, or absolute (`git ls-files` lists the files)"
            ),
        ),
        ("{outside}", "'{outside}' is outside the repository {root}; give a path inside {root}"),
    ],
)
def test_rest_bad_path_rejected(
    client: TestClient, indexed: IndexedRepo, path: str, message: str
) -> None:
    names = {"root": indexed.path, "outside": indexed.data_dir / "elsewhere.py"}

    response = client.post(
        "/v1/briefs", json={"task": TASK, "files": ["src/http/client.py", path.format(**names)]}
    )

    # 400 like every bad input in a well-formed body (docs/mcp.md); 422 is for the schema.
    assert response.status_code == 400, response.text
    assert message.format(**names) in response.json()["detail"]


def test_mcp_bad_path_rejected(indexed: IndexedRepo) -> None:
    server = build_server(indexed.settings, indexed.headstart(), repo=str(indexed.path))

    async def run() -> dict[str, tuple[bool, str]]:
        calls = {
            "get_task_brief": {"task": TASK, "files": ["src/http/nope.py"]},
            "get_file_history": {"path": "src/http/nope.py"},
            "check_guardrails": {"files": ["src/http/client.py", "src/http/nope.py"]},
        }
        results = {}
        async with Client(server, mode="legacy") as mcp:
            for name, arguments in calls.items():
                result = await mcp.call_tool(name, arguments)
                results[name] = (result.is_error, result.content[0].text)
            absolute = await mcp.call_tool(
                "check_guardrails", {"files": [str(indexed.path / "src/http/client.py")]}
            )
            results["absolute"] = (absolute.is_error, str(absolute.structured_content))
        return results

    results = anyio.run(run)

    for name in ("get_task_brief", "check_guardrails"):
        is_error, text = results[name]
        assert is_error, name
        assert f"'src/http/nope.py' is not a file of {indexed.path}" in text
    assert results["get_file_history"][0]
    assert f"'src/http/nope.py' has no history in {indexed.path}" in results["get_file_history"][1]
    is_error, text = results["absolute"]
    assert not is_error, text
    assert "'changed_files': ['src/http/client.py']" in text


def test_moved_working_tree_uses_head(
    tmp_path: Path, embedder: Embedder
) -> None:
    """A server can serve an index whose working tree is elsewhere. The indexed head still
    separates a file from a typo, but an absolute path cannot be read."""
    repo = GitRepo(tmp_path / "repo")
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    repo.commit("Add the client", {"src/client.py": "x = 1\n"})
    repo.commit("Retry in the client", {"src/client.py": "x = 2\n"})
    settings = Settings(data_dir=tmp_path / "data")
    store = Store(settings.store_uri, embedder)
    index_repository(store, repo.path)
    name = str(repo.path.resolve())
    repo.path.rename(tmp_path / "moved")
    service = Headstart(settings, store=store)

    assert service.resolve_files(["./src/client.py"], repo=name) == ["src/client.py"]
    with pytest.raises(InputError, match=r"'src/nope\.py' is not a file of"):
        service.resolve_files(["src/nope.py"], repo=name)
    with pytest.raises(InputError, match="the working tree of .* is not on this machine"):
        service.resolve_files([f"{name}/src/client.py"], repo=name)
