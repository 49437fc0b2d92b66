"""One entry point for every tracker source, so the CLI and the server write the same records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from headstart.errors import InputError
from headstart.indexers.trackers.checkpoints import default_checkpoints
from headstart.indexers.trackers.credentials import tracker_credentials
from headstart.indexers.trackers.github import _SLUG as GITHUB_SLUG
from headstart.indexers.trackers.github import TOKEN_HELP as GITHUB_TOKEN_HELP
from headstart.indexers.trackers.github import TrackerReport, index_github, repo_name_for
from headstart.indexers.trackers.gitlab import _PROJECT as GITLAB_PROJECT
from headstart.indexers.trackers.gitlab import TOKEN_HELP as GITLAB_TOKEN_HELP
from headstart.indexers.trackers.gitlab import index_gitlab
from headstart.indexers.trackers.http import Auth, TrackerClient
from headstart.indexers.trackers.imports import ImportReport, import_file
from headstart.store import Store

# Trackers read through their APIs; Jira comes in as an export file.
TRACKERS = ("github", "gitlab")


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
    environ: Mapping[str, str] | None = None,
) -> list[TrackerReport | ImportReport]:
    """Index the named GitHub repository, GitLab project and import files, in that order.

    Tokens and base URLs come from `environ` (default: the process environment), as
    `tracker_credentials` reads them; an explicit `api_url` wins over them.
    """
    checkpoints = default_checkpoints(store, data_dir)
    reports: list[TrackerReport | ImportReport] = []
    if github:
        found = tracker_credentials("github", url=api_url, environ=environ)
        reports.append(
            index_github(
                store,
                github,
                token=found.token,
                checkpoints=checkpoints,
                api_url=found.url,
                bug_labels=bug_labels,
                repo_name=repo,
            )
        )
    if gitlab:
        found = tracker_credentials("gitlab", url=api_url, environ=environ)
        reports.append(
            index_gitlab(
                store,
                gitlab,
                token=found.token,
                checkpoints=checkpoints,
                url=found.url,
                bug_labels=bug_labels,
                repo_name=repo,
            )
        )
    for path in imports:
        reports.append(import_file(store, path, repo=repo, bug_labels=bug_labels))
    return reports


def check_project(
    tracker: str,
    project: str,
    *,
    repo: str | None = None,
    environ: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """Fetch a tracker project once, without retries or waits, and return the repository name its records get.

    A server calls this before it queues a run, so a misspelt project, a rejected token or an
    unreachable tracker is reported in the response, not only in a job's status.
    Raises InputError for an unknown tracker or a malformed project, and the `TrackerError`
    subclasses of `headstart.indexers.trackers.http` for what the tracker replies.
    """
    if tracker not in TRACKERS:
        hint = (
            " Jira is read from exports: import the CSV or JSON that Jira writes."
            if tracker.lower().startswith("jira")
            else ""
        )
        raise InputError(
            f"unknown tracker {tracker!r}; use one of {', '.join(map(repr, TRACKERS))}.{hint}"
        )
    pattern, example = (
        (GITHUB_SLUG, "pallets/click")
        if tracker == "github"
        else (GITLAB_PROJECT, "gitlab-org/cli")
    )
    if not pattern.match(project):
        shape = "owner/name" if tracker == "github" else "group/project"
        raise InputError(f"{tracker} project {project!r} is not {shape}; send it like {example!r}")

    found = tracker_credentials(tracker, environ=environ)
    if tracker == "github":
        name = repo or repo_name_for(found.url, project)
        auth = Auth("Authorization", f"Bearer {found.token}") if found.token else None
        base, path, token_help = found.url, f"repos/{project}", GITHUB_TOKEN_HELP
    else:
        name = repo or f"{(urlsplit(found.url).hostname or 'gitlab.com').lower()}/{project}"
        auth = Auth("PRIVATE-TOKEN", found.token) if found.token else None
        base, path, token_help = (
            found.url.rstrip("/") + "/api/v4",
            f"projects/{quote(project, safe='')}",
            GITLAB_TOKEN_HELP,
        )

    source = f"{tracker}:{name}"
    with TrackerClient(
        source,
        base,
        auth,
        token_help=token_help,
        transport=transport,
        attempts=1,
        max_wait=0.0,
        timeout=10.0,
    ) as client:
        client.get(path)
    return name
