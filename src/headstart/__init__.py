"""Headstart: task briefs and guardrails mined from a repository's history, and a token ledger."""

__version__ = "0.1.0"
