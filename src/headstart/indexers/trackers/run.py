"""One entry point for every tracker source, so the CLI and the server write the same records."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from headstart.indexers.trackers.checkpoints import default_checkpoints
from headstart.indexers.trackers.credentials import tracker_credentials
from headstart.indexers.trackers.github import TrackerReport, index_github
from headstart.indexers.trackers.gitlab import index_gitlab
from headstart.indexers.trackers.imports import ImportReport, import_file
from headstart.store import Store


def run_trackers(
    store: Store,
    data_dir: Path,
    *,
    github: str | None = None,
    gitlab: str | None = None,
    imports: Sequence[Path] = (),
    bug_labels: Sequence[str] = ("bug",),
    repo: str | None = None,
    api_url: str | None = None,
) -> list[TrackerReport | ImportReport]:
    """Index the named GitHub repository, GitLab project and import files, in that order."""
    checkpoints = default_checkpoints(data_dir)
    reports: list[TrackerReport | ImportReport] = []
    if github:
        found = tracker_credentials("github", url=api_url)
        reports.append(
            index_github(store, github, token=found.token, checkpoints=checkpoints, api_url=found.url, bug_labels=bug_labels, repo_name=repo)
        )
    if gitlab:
        found = tracker_credentials("gitlab", url=api_url)
        reports.append(
            index_gitlab(store, gitlab, token=found.token, checkpoints=checkpoints, url=found.url, bug_labels=bug_labels, repo_name=repo)
        )
    for path in imports:
        reports.append(import_file(store, path, repo=repo, bug_labels=bug_labels))
    return reports
