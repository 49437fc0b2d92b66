"""Headstart: task briefs and guardrails mined from a repository's history, and a token ledger."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("headstart")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
