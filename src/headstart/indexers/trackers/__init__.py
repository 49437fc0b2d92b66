"""Pull requests, reviews and bugs from GitHub, GitLab and offline exports, linked to git history."""

from headstart.indexers.trackers.github import TrackerReport as TrackerReport
from headstart.indexers.trackers.github import index_github as index_github
from headstart.indexers.trackers.gitlab import index_gitlab as index_gitlab
from headstart.indexers.trackers.http import TrackerError as TrackerError
from headstart.indexers.trackers.imports import ImportReport as ImportReport
from headstart.indexers.trackers.imports import import_file as import_file
from headstart.indexers.trackers.run import run_trackers as run_trackers
