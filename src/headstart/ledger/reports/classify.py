"""Sort sessions and tasks into productive, inefficient, wasteful or pending, with reasons.

The rules, in order (thresholds from `ReportSettings`):

wasteful
- loop: one failing tool call, or one error, repeated `loop_repeats` times or more;
- reverted: a commit of the work was reverted within `rework_days`;
- abandoned: the task was finished as abandoned or failed. A session is abandoned too when no
  commit came within `abandon_hours` of its end, or when none of its commits merged within
  `rework_days`.

A commit counts as merged when the default branch contains it, or contains a squash or rebase
of it (see `landing`).

pending: commits not merged yet (or no commit yet) while those windows are still open, or no
git history on this machine to judge by.

inefficient, for work that merged and stayed, when any of:
- its cost is above `cost_ratio` times the median cost of the successful units of the same
  type of work (once there are at least `min_peers` of them);
- a model matching `expensive_models` did work that mostly renames files (`move_share`);
- rework: a fix touched the same files within `rework_days`.

productive: everything else that merged and stayed.

When a pull request's label decided the type of work, that is the last reason shown.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median

from headstart.ledger.reports.classes import Classification
from headstart.ledger.reports.settings import ReportSettings
from headstart.text import counted

WASTED_OUTCOMES = ("abandoned", "failed")


@dataclass
class Facts:
    """The facts known about one unit of work before it is judged."""

    cost: Decimal
    work_type: str
    model: str | None
    ended_at: datetime | None
    git_known: bool
    commits: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    pull_requests: dict[str, str] = field(default_factory=dict)
    reverted_by: dict[str, str] = field(default_factory=dict)
    refixed_by: dict[str, list[str]] = field(default_factory=dict)
    # sha → (how, sha on the default branch), for commits squashed or rebased there.
    landed: dict[str, tuple[str, str]] = field(default_factory=dict)
    renamed_share: float = 0.0
    failed_calls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    task_outcome: str | None = None
    branch: str | None = None
    # Shown with the reasons when a pull request's label decided `work_type`.
    type_reason: str | None = None


@dataclass
class Judgement:
    classification: Classification
    reasons: list[str]
    looped: bool = False
    abandoned: bool = False
    reverted: bool = False
    reworked: bool = False

    @property
    def successful(self) -> bool:
        return self.classification in (Classification.PRODUCTIVE, Classification.INEFFICIENT)

    @property
    def first_try(self) -> bool:
        return self.successful and not self.reworked


def _short(sha: str) -> str:
    return sha[:8]


def _landings(landed: dict[str, tuple[str, str]]) -> str:
    """Say where commits landed under other shas: "squashed into 1a2b3c4d; rebased as …"."""
    parts = []
    for how, verb in (("squash", "squashed into"), ("rebase", "rebased as")):
        shas = sorted({_short(sha) for kind, sha in landed.values() if kind == how})
        if shas:
            parts.append(f"{verb} {', '.join(shas)}")
    return "; ".join(parts)


def _loop(facts: Facts, settings: ReportSettings) -> str | None:
    for label, values in (("failing tool call", facts.failed_calls), ("error", facts.errors)):
        if not values:
            continue
        value, repeats = Counter(values).most_common(1)[0]
        if repeats >= settings.loop_repeats:
            return f"loop: the same {label} ({value}) failed {repeats} times"
    return None


def judge_outcome(facts: Facts, settings: ReportSettings, now: datetime) -> Judgement:
    """Judge everything but the cost comparison, which needs the other units (see `judge_all`)."""
    if (loop := _loop(facts, settings)) is not None:
        return Judgement(Classification.WASTEFUL, [loop], looped=True)
    if facts.reverted_by:
        reasons = [
            f"reverted: {_short(sha)} was reverted by {_short(by)} within "
            f"{counted(settings.rework_days, 'day')}"
            for sha, by in sorted(facts.reverted_by.items())
        ]
        return Judgement(Classification.WASTEFUL, reasons, reverted=True)
    if facts.task_outcome in WASTED_OUTCOMES:
        return Judgement(
            Classification.WASTEFUL,
            [f"abandoned: the task was finished as {facts.task_outcome}"],
            abandoned=True,
        )

    since_end = now - facts.ended_at if facts.ended_at else timedelta(0)
    if not facts.commits:
        if not facts.git_known:
            return Judgement(
                Classification.PENDING,
                ["no git history of this repository here: analyze where it is cloned"],
            )
        if since_end > timedelta(hours=settings.abandon_hours):
            where = f"on {facts.branch}" if facts.branch else "in the repository"
            return Judgement(
                Classification.WASTEFUL,
                [f"abandoned: no commit {where} within {settings.abandon_hours:g} hours"],
                abandoned=True,
            )
        return Judgement(Classification.PENDING, ["no commit yet"])

    if not facts.merged:
        if since_end > timedelta(days=settings.rework_days):
            return Judgement(
                Classification.WASTEFUL,
                [
                    (
                        f"abandoned: {counted(len(facts.commits), 'commit')} never merged within "
                        f"{counted(settings.rework_days, 'day')}"
                    )
                ],
                abandoned=True,
            )
        return Judgement(
            Classification.PENDING, [f"{counted(len(facts.commits), 'commit')} not merged yet"]
        )

    prs = sorted(set(facts.pull_requests.values()))
    reason = (
        f"merged and stayed: {len(facts.merged)} of {counted(len(facts.commits), 'commit')} merged"
    )
    if facts.landed:
        reason += f" ({_landings(facts.landed)})"
    if prs:
        reason += " in " + ", ".join(prs)
    judgement = Judgement(Classification.PRODUCTIVE, [reason])

    if facts.refixed_by:
        judgement.reworked = True
        for sha, fixes in sorted(facts.refixed_by.items()):
            judgement.reasons.append(
                f"rework: {', '.join(_short(fix) for fix in fixes)} fixed files of "
                f"{_short(sha)} within {counted(settings.rework_days, 'day')}"
            )
    if (
        facts.model
        and facts.renamed_share >= settings.move_share
        and any(fnmatch.fnmatchcase(facts.model, pattern) for pattern in settings.expensive_models)
    ):
        judgement.reasons.append(
            f"expensive model {facts.model} for work that mostly moves or renames files "
            f"({facts.renamed_share:.0%} renamed)"
        )
    if len(judgement.reasons) > 1:
        judgement.classification = Classification.INEFFICIENT
    return judgement


def judge_all(units: list[Facts], settings: ReportSettings, now: datetime) -> list[Judgement]:
    """Judge every unit, comparing the cost of successful ones with their type of work's median."""
    judgements = [judge_outcome(facts, settings, now) for facts in units]

    costs: dict[str, list[Decimal]] = {}
    for facts, judgement in zip(units, judgements, strict=True):
        if judgement.successful:
            costs.setdefault(facts.work_type, []).append(facts.cost)
    medians = {
        kind: Decimal(median(values))
        for kind, values in costs.items()
        if len(values) >= settings.min_peers
    }

    for facts, judgement in zip(units, judgements, strict=True):
        middle = medians.get(facts.work_type)
        if not judgement.successful or not middle:
            continue
        ratio = facts.cost / middle
        if ratio > Decimal(str(settings.cost_ratio)):
            judgement.classification = Classification.INEFFICIENT
            judgement.reasons.append(
                f"cost ${facts.cost:.2f} is {ratio:.1f}x the median ${middle:.2f} of "
                f"{len(costs[facts.work_type])} successful {facts.work_type} tasks "
                f"(limit {settings.cost_ratio:g}x)"
            )

    # Added after judging, since the number of reasons decides whether work was inefficient.
    for facts, judgement in zip(units, judgements, strict=True):
        if facts.type_reason:
            judgement.reasons.append(facts.type_reason)
    return judgements
