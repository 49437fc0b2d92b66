"""Ranking the files a task will probably change, with the reasons for each."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from headstart.context.history import MAX_FILES_PER_CHANGE, HistoryView
from headstart.context.kinds import DESCRIPTIONS, rank_kind, task_kind
from headstart.indexers.messages import find_pull_request
from headstart.store import SearchHit

# Weights of the signals, chosen on held-out repositories (see docs/evaluation.md).
SIMILAR_WEIGHT = 1.0
NAMED_WEIGHT = 2.0
ANCHOR_WEIGHT = 3.0
CO_CHANGE_WEIGHT = 0.8
RANK_CONSTANT = 2.0
# Similarity is raised to this power, so changes that merely share a word count for little.
SIMILARITY_POWER = 3
# The ranking from similar changes is fused with the lexical ranking of files by reciprocal rank:
# each adds weight / (FUSION_K + rank) for its first FUSION_DEPTH files. Chosen on ripgrep and
# checked on other repositories (docs/evaluation.md).
FUSION_K = 5
FUSION_DEPTH = 30
SEMANTIC_FUSION_WEIGHT = 1.0
LEXICAL_FUSION_WEIGHT = 1.0
# The weight of the files containing identifiers the task names. Most tasks name none, and
# then that ranking is empty.
IDENTIFIER_FUSION_WEIGHT = 1.0
# The weight of the files of the kind a task's prefix names ("CI:", "test:", "docs:"); chosen on
# ripgrep, sinatra and prometheus (docs/evaluation.md). Most tasks have no such prefix.
KIND_FUSION_WEIGHT = 1.0

_PATH_TOKEN = re.compile(r"[\w.\-/]+")


@dataclass
class FileEvidence:
    score: float = 0.0
    similar: list[str] = field(default_factory=list)
    named: bool = False
    anchor: bool = False
    co_changed_with: list[tuple[str, int, int]] = field(default_factory=list)
    lexical_rank: int | None = None
    identifiers: list[str] = field(default_factory=list)
    kind: str | None = None


def named_files(task: str, candidates: set[str] | None) -> set[str]:
    """Find files the task text names: by path, by a file name unique enough to match, or by a
    dotted name that is a file without its extension (`res.send` for `test/res.send.js`,
    `flask.json.provider` for `src/flask/json/provider.py`)."""
    if not candidates:
        return set()
    tokens = {token.strip("./").lower() for token in _PATH_TOKEN.findall(task)}
    tokens = {token for token in tokens if "." in token or "/" in token}
    if not tokens:
        return set()
    modules = {token.replace(".", "/") for token in tokens if "/" not in token}
    found: set[str] = set()
    for path in candidates:
        lowered = path.lower()
        name = lowered.rsplit("/", 1)[-1]
        if lowered in tokens or name in tokens or any(lowered.endswith("/" + token) for token in tokens if "/" in token):
            found.add(path)
            continue
        # The path without its extension: `test/res.send` for `test/res.send.js`.
        stem = lowered.rsplit(".", 1)[0] if "." in name else lowered
        by_module = any(stem == module or stem.endswith("/" + module) for module in modules)
        if stem.rsplit("/", 1)[-1] in tokens or by_module:
            found.add(path)
    return found


def rank_files(
    view: HistoryView,
    task: str,
    hits: Sequence[SearchHit],
    anchors: Sequence[str] = (),
) -> list[tuple[str, FileEvidence]]:
    """Score files by the similar changes that touched them, names in the task, and co-change."""
    evidence: dict[str, FileEvidence] = defaultdict(FileEvidence)
    seen_changes: set[tuple[str, ...]] = set()

    for rank, hit in enumerate(hits):
        files = [path for path in view.current_files(hit.record.files) if view.exists(path)]
        signature = tuple(sorted(hit.record.files))
        if not files or len(hit.record.files) > MAX_FILES_PER_CHANGE or signature in seen_changes:
            continue
        # A squash-merged pull request and its commit carry the same files: count them once.
        seen_changes.add(signature)
        closeness = max(hit.similarity, 0.0) ** SIMILARITY_POWER
        weight = SIMILAR_WEIGHT * closeness / (RANK_CONSTANT + rank) / math.sqrt(len(files))
        label = hit_label(hit)
        for path in files:
            evidence[path].score += weight
            evidence[path].similar.append(label)

    for path in named_files(task, view.head_files):
        evidence[path].score += NAMED_WEIGHT / RANK_CONSTANT
        evidence[path].named = True
    for path in anchors:
        evidence[path].score += ANCHOR_WEIGHT / RANK_CONSTANT
        evidence[path].anchor = True

    # Spread a little of each strong file's score to the files that usually change with it.
    seeds = sorted(evidence.items(), key=lambda item: -item[1].score)[:5]
    for path, seed in seeds:
        total, partners = view.co_changes(path)
        if total < 2:
            continue
        for partner, together in partners.most_common(5):
            confidence = together / total
            if together < 2 or confidence < 0.3 or not view.exists(partner):
                continue
            evidence[partner].score += seed.score * confidence * CO_CHANGE_WEIGHT
            evidence[partner].co_changed_with.append((path, together, total))

    ranked = sorted(evidence.items(), key=lambda item: (-item[1].score, item[0]))
    # A file given with the task stays even when the indexed head lacks it: a new, uncommitted file.
    semantic = [(path, item) for path, item in ranked if view.exists(path) or item.anchor]
    lexical = view.message_index().rank(task, FUSION_DEPTH)
    named_code = view.identifier_index().rank(task, FUSION_DEPTH)
    fused = _fuse(semantic, lexical, named_code, anchors)
    kind = task_kind(task)
    if kind is None:
        return fused
    return _fuse_kind(view, kind, fused)


def _fuse(
    semantic: list[tuple[str, FileEvidence]],
    lexical: list[str],
    named_code: list[tuple[str, list[str]]],
    anchors: Sequence[str],
) -> list[tuple[str, FileEvidence]]:
    """Fuse the rankings from similar changes, words and identifiers, keeping files given with the task first."""
    evidence = dict(semantic)
    fused: dict[str, float] = defaultdict(float)
    for rank, (path, _) in enumerate(semantic[:FUSION_DEPTH]):
        fused[path] += SEMANTIC_FUSION_WEIGHT / (FUSION_K + rank)
    for rank, path in enumerate(lexical):
        fused[path] += LEXICAL_FUSION_WEIGHT / (FUSION_K + rank)
        evidence.setdefault(path, FileEvidence()).lexical_rank = rank + 1
    for rank, (path, names) in enumerate(named_code):
        fused[path] += IDENTIFIER_FUSION_WEIGHT / (FUSION_K + rank)
        evidence.setdefault(path, FileEvidence()).identifiers = names
    for path in anchors:
        if path in evidence:
            fused[path] += 2 * (SEMANTIC_FUSION_WEIGHT + LEXICAL_FUSION_WEIGHT + IDENTIFIER_FUSION_WEIGHT) / FUSION_K

    for path, item in evidence.items():
        item.score = fused.get(path, 0.0)
    order = {path: position for position, (path, _) in enumerate(semantic)}
    return sorted(evidence.items(), key=lambda entry: (-entry[1].score, order.get(entry[0], len(order)), entry[0]))


def _fuse_kind(view: HistoryView, kind: str, fused: list[tuple[str, FileEvidence]]) -> list[tuple[str, FileEvidence]]:
    """Fuse in the files of the kind the task's prefix names, in the order the other rankings gave them."""
    evidence = dict(fused)
    # The fused order already breaks ties by the similar-changes ranking, so it breaks them here too.
    position = {path: rank for rank, (path, _) in enumerate(fused)}
    files = rank_kind(view.files_of_kind(kind), position, lambda path: len(view.by_file.get(path, ())), FUSION_DEPTH)
    for rank, path in enumerate(files):
        item = evidence.setdefault(path, FileEvidence())
        item.score += KIND_FUSION_WEIGHT / (FUSION_K + rank)
        item.kind = kind
    return sorted(evidence.items(), key=lambda entry: (-entry[1].score, position.get(entry[0], len(position)), entry[0]))


def hit_label(hit: SearchHit) -> str:
    """Name a similar change as an agent can look it up: 'PR #12' or 'commit <sha>'."""
    record = hit.record
    if record.kind.value == "pull_request":
        return f"PR {record.key}"
    # A commit that landed a pull request is better known by the pull request.
    marker = find_pull_request(f"{record.title}\n\n{record.body}")
    if marker is not None:
        return f"PR {marker.key}"
    return f"commit {record.key[:10]}"


def reasons(item: FileEvidence, similar_count: int) -> list[str]:
    """Explain a file's rank in words an agent can check."""
    explained: list[str] = []
    if item.anchor:
        explained.append("given with the task")
    if item.named:
        explained.append("named in the task")
    if item.similar:
        shown = ", ".join(item.similar[:3])
        explained.append(f"changed by {len(item.similar)} of the {similar_count} most similar past changes ({shown})")
    for path, together, total in item.co_changed_with[:2]:
        explained.append(f"changed with {path} in {together} of its {total} commits")
    if item.identifiers:
        names = ", ".join(f"`{name}`" for name in item.identifiers[:3])
        explained.append(f"contains {names}, named in the task")
    if item.kind is not None:
        explained.append(f"{DESCRIPTIONS[item.kind]}, the kind of file the task's prefix names")
    # Every rank is given: a file listed for its words alone would otherwise show no reason.
    if item.lexical_rank is not None:
        place = "best" if item.lexical_rank == 1 else f"{ordinal(item.lexical_rank)} best"
        explained.append(f"its path and past commit messages match the task ({place} of all files)")
    return explained


def ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"
