"""Scoring a ranked list of files against the files a change really touched."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import mean, median

from pydantic import BaseModel, Field

from headstart.bootstrap import mean_interval

# Every ranker is cut to this many files before scoring, so rankers that return longer lists
# get no advantage in the reciprocal rank.
DEPTH = 10
REPORTED_K = (1, 5, 10)
# The margin's interval: seeded, so a rerun on the same tasks prints the same interval.
MARGIN_RESAMPLES = 10_000
MARGIN_SEED = 5
MARGIN_CONFIDENCE = 0.95


class TaskScores(BaseModel):
    """Scores of one ranking against one change's files."""

    recall: list[float] = Field(description="recall@k for k = 1 … DEPTH: the share of expected files in the top k.")
    hit_at_5: bool = Field(description="At least one expected file is in the top 5.")
    all_found_at_10: bool = Field(description="Every expected file is in the top 10.")
    reciprocal_rank: float = Field(description="1 / rank of the first expected file in the top 10; 0 when none is.")

    def recall_at(self, k: int) -> float:
        return self.recall[k - 1]


class RankerSummary(BaseModel):
    """One ranker's scores averaged over the tasks."""

    tasks: int
    recall: list[float] = Field(description="Mean recall@k for k = 1 … DEPTH.")
    hit_at_5: float
    all_found_at_10: float
    mrr: float = Field(description="Mean reciprocal rank, cut at rank 10.")

    def recall_at(self, k: int) -> float:
        return self.recall[k - 1]


class Margin(BaseModel):
    """One ranker's mean recall@10 minus another's over the same tasks, with a bootstrap interval."""

    difference: float
    low: float = Field(description="Lower end of the 95% interval, from resampling the tasks.")
    high: float = Field(description="Upper end of the 95% interval.")


class CoChangeSummary(BaseModel):
    """Co-change queries: given one file of a change, how many of its other files the brief names."""

    queries: int
    top3_hit: float = Field(description="Share of queries with a correct file among the brief's first three suggestions.")
    recall: float = Field(description="Mean share of the change's other files that the brief names.")


def score_ranking(ranking: Sequence[str], expected: Sequence[str]) -> TaskScores:
    """Score the first DEPTH files of `ranking` against the `expected` set."""
    wanted = set(expected)
    if not wanted:
        raise ValueError("a task needs at least one expected file")
    top = list(dict.fromkeys(ranking))[:DEPTH]

    recall = []
    found = 0
    for position in range(DEPTH):
        if position < len(top) and top[position] in wanted:
            found += 1
        recall.append(found / len(wanted))

    first = next((position for position, path in enumerate(top) if path in wanted), None)
    return TaskScores(
        recall=recall,
        hit_at_5=any(path in wanted for path in top[:5]),
        all_found_at_10=wanted <= set(top[:10]),
        reciprocal_rank=0.0 if first is None else 1.0 / (first + 1),
    )


def summarize(scores: Sequence[TaskScores]) -> RankerSummary:
    """Average per-task scores; an empty list gives zeros."""
    if not scores:
        return RankerSummary(tasks=0, recall=[0.0] * DEPTH, hit_at_5=0.0, all_found_at_10=0.0, mrr=0.0)
    return RankerSummary(
        tasks=len(scores),
        recall=[mean(score.recall[position] for score in scores) for position in range(DEPTH)],
        hit_at_5=mean(float(score.hit_at_5) for score in scores),
        all_found_at_10=mean(float(score.all_found_at_10) for score in scores),
        mrr=mean(score.reciprocal_rank for score in scores),
    )


def margin(ours: Sequence[TaskScores], theirs: Sequence[TaskScores]) -> Margin:
    """Compare two rankers' recall@10 on the same tasks, task by task.

    The tasks are resampled as pairs, so a task both find hard widens the interval no more than
    one both find easy. The interval shows how far the margin could move with other tasks drawn.
    """
    if len(ours) != len(theirs) or not ours:
        raise ValueError(f"a margin needs the same tasks on both sides, not {len(ours)} and {len(theirs)}")
    differences = [mine.recall_at(DEPTH) - other.recall_at(DEPTH) for mine, other in zip(ours, theirs, strict=True)]
    interval = mean_interval(differences, resamples=MARGIN_RESAMPLES, seed=MARGIN_SEED, confidence=MARGIN_CONFIDENCE)
    assert interval is not None  # the differences are finite and there is at least one
    return Margin(difference=mean(differences), low=interval[0], high=interval[1])


def co_change_scores(suggestions: Sequence[str], named: set[str], anchor: str, others: Sequence[str]) -> tuple[bool, float]:
    """Score one co-change query: a hit among the first three suggestions, and the recall of `named`.

    `suggestions` are the brief's files in the order it offers them for `anchor`; `named` is every
    file the brief names. The anchor itself counts for neither.
    """
    wanted = set(others) - {anchor}
    first_three = [path for path in dict.fromkeys(suggestions) if path != anchor][:3]
    hit = any(path in wanted for path in first_three)
    recall = len((named - {anchor}) & wanted) / len(wanted) if wanted else 0.0
    return hit, recall


def summarize_co_change(results: Sequence[tuple[bool, float]]) -> CoChangeSummary:
    if not results:
        return CoChangeSummary(queries=0, top3_hit=0.0, recall=0.0)
    return CoChangeSummary(
        queries=len(results),
        top3_hit=mean(float(hit) for hit, _ in results),
        recall=mean(recall for _, recall in results),
    )


def token_summary(tokens: Sequence[int]) -> dict[str, float]:
    """Mean, median and maximum brief size in tokens."""
    if not tokens:
        return {"mean": 0.0, "median": 0.0, "max": 0.0}
    return {"mean": mean(tokens), "median": median(tokens), "max": float(max(tokens))}
