"""The evaluation run: index up to the cut, replay each later change, score every ranker on it."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field

from headstart.context.brief import build_brief
from headstart.context.history import HistoryCache, build_history
from headstart.context.models import Brief
from headstart.context.signals import Thresholds
from headstart.errors import InputError
from headstart.evaluation.baselines import CommitMessageRanker, FileContentRanker, RecentRanker
from headstart.evaluation.cut import DEFAULT_CUT_FRACTION, Skipped, Task, choose_cut, list_tasks, spread
from headstart.evaluation.metrics import (
    DEPTH,
    CoChangeSummary,
    Margin,
    RankerSummary,
    TaskScores,
    co_change_scores,
    margin,
    score_ranking,
    summarize,
    summarize_co_change,
    token_summary,
)
from headstart.indexers.pipeline import index_repository
from headstart.indexers.repository import open_repository
from headstart.indexers.trackers.imports import import_file
from headstart.records import Freshness, LinkKind, RecordKind
from headstart.store import Store

logger = logging.getLogger("headstart.evaluation")

HEADSTART = "headstart"
RANKERS = (HEADSTART, "bm25_contents", "bm25_messages", "recent")
_NUMBER = re.compile(r"(?<![\w/])#(\d+)\b")

ProgressCallback = Callable[[int, int], None]


class EvalOptions(BaseModel):
    """Settings of one evaluation run, one field per CLI option."""

    repo: Path
    cut_rev: str | None = None
    cut_date: datetime | None = None
    cut_fraction: float | None = None
    max_tasks: int = Field(default=200, ge=1)
    max_files: int = Field(default=20, ge=1, description="Changes touching more files are skipped.")
    max_tokens: int = Field(default=1500, ge=100, description="Token budget of each brief.")
    co_change_anchors: int = Field(default=3, ge=0, description="Files of each change used as co-change queries.")
    imports: list[Path] = Field(default_factory=list, description="Tracker export files indexed up to the cut.")
    thresholds: Thresholds = Field(default_factory=Thresholds)

    model_config = {"arbitrary_types_allowed": True}


class CoChangeQuery(BaseModel):
    """One co-change query: a file of the change, and the other files the brief and the co-change counts suggest."""

    anchor: str
    suggestions: list[str] = Field(description="The brief's first three suggestions for other files.")
    top3_hit: bool
    recall: float
    history_suggestions: list[str] = Field(
        default_factory=list, description="The files most often changed with the anchor before the cut, at most 10."
    )
    history_top3_hit: bool = False
    history_recall: float = 0.0


class TaskResult(BaseModel):
    """One replayed change: what each ranker returned and how it scored."""

    task: Task
    rankings: dict[str, list[str]]
    scores: dict[str, TaskScores]
    brief_tokens: int
    reference_in_brief: bool | None = Field(
        description="Whether a past pull request, commit or bug in the brief is one the change points to; None when it points to none."
    )
    co_change: list[CoChangeQuery] = Field(default_factory=list)


class EvalReport(BaseModel):
    """Everything one evaluation measured, per task and in aggregate."""

    repo: str
    path: str
    head: str
    cut: str
    cut_date: datetime
    cut_position: int = Field(description="First-parent commits up to and including the cut.")
    first_parent_commits: int
    later_changes: int
    tasks_eligible: int
    options: dict
    results: list[TaskResult]
    skipped: list[Skipped]
    summary: dict[str, RankerSummary]
    margins: dict[str, Margin] = Field(
        default_factory=dict,
        description="Per baseline: Headstart's mean recall@10 minus the baseline's, with a 95% bootstrap interval.",
    )
    co_change: CoChangeSummary
    co_change_history: CoChangeSummary = Field(description="The same queries, scored on co-change counts alone.")
    brief_tokens: dict[str, float]
    tasks_with_references: int
    reference_in_brief: float | None = Field(description="Share of tasks with references whose brief names one of them.")
    index_seconds: float
    eval_seconds: float


def run_evaluation(options: EvalOptions, store: Store, on_progress: ProgressCallback | None = None) -> EvalReport:
    """Evaluate Headstart on `options.repo` using `store`, which must hold nothing the user needs.

    The store is indexed up to the cut, so any later commit it held is removed.
    """
    opened = open_repository(options.repo)
    if opened.head is None:
        raise InputError(f"{str(opened.path)!r} has no commits to evaluate on; pick a repository with history")
    cut = choose_cut(
        opened.repo, opened.head, cut_rev=options.cut_rev, cut_date=options.cut_date, cut_fraction=options.cut_fraction
    )
    logger.info("cut at %s (%d of %d first-parent commits)", cut.sha[:12], cut.position, cut.total)
    if options.cut_rev is None and options.cut_date is None and options.cut_fraction is None:
        # The report names the cut it applied, not an empty option.
        options = options.model_copy(update={"cut_fraction": DEFAULT_CUT_FRACTION})

    started = time.perf_counter()
    # The path as given, not opened.path: a bare git folder without a config has no usable work tree.
    index_repository(store, options.repo, until=cut.sha, max_files_per_commit=options.thresholds.max_files_per_commit)
    # Also without --import: a reused --work store may hold tracker records from a later cut.
    tracker_text = _import_trackers(store, opened.name, options.imports, cut.time)
    index_seconds = time.perf_counter() - started

    started = time.perf_counter()
    eligible, skipped = list_tasks(opened.repo, cut, max_files=options.max_files, tracker_text=tracker_text)
    tasks = spread(eligible, options.max_tasks)
    cache = HistoryCache(store)
    view = cache.get(opened.name)
    # The baselines see each commit's files as it recorded them: following renames is
    # Headstart's, not part of a plain BM25 over `git log` (docs/evaluation.md gives both).
    recorded = build_history(store, opened.name, follow_renames=False)
    baselines = [FileContentRanker(opened.repo, cut.commit), CommitMessageRanker(recorded), RecentRanker(recorded)]
    freshness = Freshness(indexed_head=cut.sha, current_head=cut.sha)

    results: list[TaskResult] = []
    for done, task in enumerate(tasks):
        brief = build_brief(
            store, cache, opened.name, task.text,
            max_tokens=options.max_tokens, freshness=freshness, thresholds=options.thresholds,
        )
        rankings = {HEADSTART: [item.path for item in brief.likely_files][:DEPTH]}
        for ranker in baselines:
            rankings[ranker.name] = ranker.rank(task.text)
        queries = _co_change_queries(store, cache, opened.name, task, options, freshness)
        results.append(
            TaskResult(
                task=task,
                rankings=rankings,
                scores={name: score_ranking(ranking, task.expected) for name, ranking in rankings.items()},
                brief_tokens=brief.tokens,
                reference_in_brief=reference_found(task.references, brief),
                co_change=queries,
            )
        )
        if on_progress:
            on_progress(done + 1, len(tasks))

    with_references = [result.reference_in_brief for result in results if result.reference_in_brief is not None]
    return EvalReport(
        repo=opened.name,
        path=str(opened.path),
        head=str(opened.head.id),
        cut=cut.sha,
        cut_date=cut.time,
        cut_position=cut.position,
        first_parent_commits=cut.total,
        later_changes=len(cut.later),
        tasks_eligible=len(eligible),
        options=options.model_dump(mode="json"),
        results=results,
        skipped=skipped,
        summary={name: summarize([result.scores[name] for result in results]) for name in RANKERS},
        margins={
            name: margin([result.scores[HEADSTART] for result in results], [result.scores[name] for result in results])
            for name in RANKERS
            if name != HEADSTART and results
        },
        co_change=summarize_co_change([(query.top3_hit, query.recall) for result in results for query in result.co_change]),
        co_change_history=summarize_co_change(
            [(query.history_top3_hit, query.history_recall) for result in results for query in result.co_change]
        ),
        brief_tokens=token_summary([result.brief_tokens for result in results]),
        tasks_with_references=len(with_references),
        reference_in_brief=(sum(with_references) / len(with_references)) if with_references else None,
        index_seconds=round(index_seconds, 1),
        eval_seconds=round(time.perf_counter() - started, 1),
    )


def _co_change_queries(
    store: Store, cache: HistoryCache, repo: str, task: Task, options: EvalOptions, freshness: Freshness
) -> list[CoChangeQuery]:
    """Brief the task again starting from one of its files, and see which of the others it names."""
    if len(task.expected) < 2:
        return []
    queries = []
    for anchor in task.expected[: options.co_change_anchors]:
        brief = build_brief(
            store, cache, repo, task.text, files=[anchor],
            max_tokens=options.max_tokens, freshness=freshness, thresholds=options.thresholds,
        )
        # The co-change section lists what changes with this very file, so it comes first.
        suggestions = [pair.with_path for pair in brief.co_changes if pair.path == anchor]
        suggestions += [item.path for item in brief.likely_files]
        named = {item.path for item in brief.likely_files}
        named |= {pair.with_path for pair in brief.co_changes} | {pair.path for pair in brief.co_changes}
        hit, recall = co_change_scores(suggestions, named, anchor, task.expected)
        first_three = [path for path in dict.fromkeys(suggestions) if path != anchor][:3]

        # Association rules of support 2 or more, ranked by confidence: the setting of the published figures.
        _, partners = cache.get(repo).co_changes(anchor)
        history = [path for path, together in partners.most_common() if together >= 2 and cache.get(repo).exists(path)][:10]
        history_hit, history_recall = co_change_scores(history, set(history), anchor, task.expected)
        queries.append(
            CoChangeQuery(
                anchor=anchor,
                suggestions=first_three,
                top3_hit=hit,
                recall=round(recall, 4),
                history_suggestions=history,
                history_top3_hit=history_hit,
                history_recall=round(history_recall, 4),
            )
        )
    return queries


def reference_found(references: Sequence[str], brief: Brief) -> bool | None:
    """Tell whether the brief names a pull request, commit or bug the change itself points to."""
    if not references:
        return None
    named: set[str] = set()
    shas: list[str] = []
    for item in brief.related:
        if item.kind == RecordKind.PULL_REQUEST.value and item.key.startswith("#"):
            # GitHub numbers issues and pull requests in one sequence, so "fixes #12" may name either.
            named |= {f"issue:{item.key}", f"pull_request:{item.key}"}
        if item.sha:
            shas.append(item.sha)
        if item.kind == RecordKind.COMMIT.value:
            shas.append(item.key)
    for guardrail in brief.guardrails:
        if guardrail.kind == "bug":
            for text in [*guardrail.evidence, guardrail.source or "", guardrail.message]:
                named |= {f"issue:#{number}" for number in _NUMBER.findall(text)}

    for reference in references:
        kind, _, key = reference.partition(":")
        if reference in named:
            return True
        if kind == "commit" and any(sha.startswith(key) for sha in shas):
            return True
    return False


def _import_trackers(store: Store, repo: str, imports: Sequence[Path], cut_time: datetime) -> dict[str, tuple[str, str]]:
    """Import tracker exports, keep what existed at the cut, and return every pull request's title and body.

    A pull request created after the cut, or merged by a commit the index lacks (so merged after
    the cut), is removed, as are reviews and bugs created after the cut. Their titles and bodies
    are returned first, because a replayed change's task text comes from them.
    """
    for path in imports:
        report = import_file(store, path, repo=repo)
        logger.info("imported %s: %s", path, report.written)

    indexed = set(store.keys(repo, RecordKind.COMMIT.value))
    columns = ["id", "kind", "key", "title", "body", "created_at", "links"]
    kinds = [RecordKind.PULL_REQUEST.value, RecordKind.REVIEW_COMMENT.value, RecordKind.BUG.value]
    texts: dict[str, tuple[str, str]] = {}
    doomed: list[str] = []
    for row in store.columns(repo, columns, kinds=kinds).to_pylist():
        late = row["created_at"] >= cut_time
        if row["kind"] == RecordKind.PULL_REQUEST.value:
            texts[row["key"]] = (row["title"] or "", row["body"] or "")
            merged = [link["target"].partition(":")[2] for link in row["links"] or [] if link["kind"] == LinkKind.MERGED_AS.value]
            late = late or (bool(merged) and not any(sha in indexed for sha in merged))
        if late:
            doomed.append(row["id"])
    if doomed:
        store.delete(repo, doomed)
        store.refresh_indexes()
    logger.info("removed %d tracker records from after the cut", len(doomed))
    return texts
