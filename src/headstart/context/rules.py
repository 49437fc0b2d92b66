"""Rules files (AGENTS.md, CLAUDE.md, CONTRIBUTING, ADRs, …) and CODEOWNERS, applied by directory."""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections import Counter
from dataclasses import dataclass

from headstart.context.history import Change, HistoryView
from headstart.context.words import tokenize

_SECTION_BREAK = re.compile(r"\n(?=#{1,6} )|\n\s*\n")


@dataclass(frozen=True)
class RuleQuote:
    source: str  # the rules file's path
    text: str
    distance: int  # directories between the rules file and the file it applies to


def rule_scope(source: str) -> str:
    """Return the directory a rules file governs: its own, or the repository root for files kept in
    `.github/`, `.cursor/rules/` and ADR folders."""
    directory = posixpath.dirname(source)
    for shared in (".github", ".cursor/rules", ".cursor", "docs/adr", "doc/adr", "docs/decisions", "doc/decisions", "adr"):
        if directory == shared or directory.endswith("/" + shared):
            return directory[: -len(shared)].rstrip("/")
    return directory


_AGENT_FILES = frozenset({"AGENTS.md", "CLAUDE.md", "GEMINI.md", ".cursorrules", "copilot-instructions.md"})


def is_agent_rules(source: str) -> bool:
    """Tell whether a rules file is written for coding agents, not for human contributors."""
    return posixpath.basename(source) in _AGENT_FILES or "/.cursor/rules/" in f"/{source}"


def applies_to(source: str, path: str) -> int | None:
    """Return how many directories up from `path` the rules file sits, or None if it does not apply."""
    scope = rule_scope(source)
    directory = posixpath.dirname(path)
    if scope and not (directory == scope or directory.startswith(scope + "/")):
        return None
    depth = lambda value: 0 if not value else value.count("/") + 1  # noqa: E731
    return depth(directory) - depth(scope)


def relevant_quotes(view: HistoryView, paths: list[str], task: str, *, per_file: int = 2) -> list[RuleQuote]:
    """Quote the sections of applicable rules files that share the most words with the task and
    paths, nearest rules file first.

    A task word counts twice a path word. Words found in over half of a file's sections (the
    project's name, say) count for nothing, and a section sharing no other word is not quoted,
    unless it is the file's only one.
    """
    task_words = set(tokenize(task))
    path_words = {word for path in paths for word in tokenize(path.replace("/", " "))}
    quotes: list[RuleQuote] = []
    for standard in view.standards:
        if "codeowners" in standard.labels:
            continue
        source = standard.files[0] if standard.files else standard.key
        distances = [d for d in (applies_to(source, path) for path in paths) if d is not None]
        if not distances:
            continue
        sections = [section.strip() for section in _SECTION_BREAK.split(standard.body) if section.strip()]
        section_words = [set(tokenize(section)) for section in sections]
        counts = Counter(word for words in section_words for word in words)
        common = {word for word, count in counts.items() if len(sections) > 1 and count > len(sections) / 2}

        scores = [
            2 * len((task_words & words) - common) + len((path_words & words) - common)
            for words in section_words
        ]
        ranked = sorted(zip(sections, scores, strict=True), key=lambda pair: -pair[1])
        for section, score in ranked[:per_file]:
            if score or len(sections) == 1:
                quotes.append(RuleQuote(source=source, text=section[:600], distance=min(distances)))
    return sorted(quotes, key=lambda quote: (quote.distance, quote.source))


def codeowners(view: HistoryView, path: str) -> list[str]:
    """Owners CODEOWNERS assigns to `path` (the last matching pattern wins, as on GitHub)."""
    owners: list[str] = []
    for standard in view.standards:
        if "codeowners" not in standard.labels:
            continue
        for line in standard.body.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            pattern, *names = line.split()
            if _codeowners_match(pattern, path):
                owners = names
    return owners


def _codeowners_match(pattern: str, path: str) -> bool:
    anchored = pattern.startswith("/")
    pattern = pattern.strip("/") if pattern != "/" else ""
    if not pattern or pattern == "*":
        return True
    if pattern.endswith("/**"):
        pattern = pattern[:-3]
    if anchored or "/" in pattern:
        return path == pattern or path.startswith(pattern + "/") or fnmatch.fnmatch(path, pattern)
    return any(
        fnmatch.fnmatch(part, pattern) for part in path.split("/")
    ) or fnmatch.fnmatch(posixpath.basename(path), pattern)


__all__ = ["Change", "RuleQuote", "applies_to", "codeowners", "is_agent_rules", "relevant_quotes", "rule_scope"]
