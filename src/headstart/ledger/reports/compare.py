"""Before/after: compare two cohorts of work units on tokens, cost, merged PRs and rework.

A cohort is a date range, sessions with or without a Headstart brief, or both. Each metric's
difference is after minus before, with a seeded percentile bootstrap interval (tasks resampled
within each cohort) and a two-sided Mann-Whitney U test on the per-task values. A cohort with
fewer than `min_sample` tasks gets a warning: its figures are shown, but they do not conclude.
Requests of unpriced models in either cohort's period are named too, since they count at $0.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import BigInteger, case, cast, select
from sqlalchemy.orm import Session

from headstart.ledger.errors import LedgerInputError
from headstart.ledger.models import NANOS_PER_USD, WorkOutcome
from headstart.ledger.reports.classes import Classification
from headstart.ledger.reports.query import ReportQuery
from headstart.ledger.reports.settings import ReportSettings
from headstart.ledger.reports.sql import filter_outcomes
from headstart.ledger.reports.stats import bootstrap_difference, mean, rank_test, ratio_of_sums
from headstart.ledger.reports.unpriced import UnpricedNotice, unpriced_notice
from headstart.text import counted


class Cohort(BaseModel):
    """A cohort of units: those started in [start, end), with or without a brief."""

    label: str
    start: datetime | None = None
    end: datetime | None = None
    with_brief: bool | None = Field(
        default=None, description="True: only units with a brief; False: only without; None: both."
    )


class CohortSummary(BaseModel):
    label: str
    tasks: int
    decided: int = Field(description="Tasks not pending.")
    tokens: int
    cost: float
    merged_pull_requests: int


class MetricDifference(BaseModel):
    """One metric in both cohorts, their difference (after - before) and its uncertainty."""

    metric: str
    unit: str
    before: float | None
    after: float | None
    difference: float | None
    relative: float | None = Field(description="difference / before.")
    ci_low: float | None
    ci_high: float | None
    confidence: float = 0.95
    p_value: float | None = Field(description="Two-sided Mann-Whitney U on per-task values.")
    n_before: int
    n_after: int
    warning: str | None = None


class CompareReport(UnpricedNotice):
    query: ReportQuery
    before: CohortSummary
    after: CohortSummary
    metrics: list[MetricDifference]


def brief_cohorts() -> tuple[Cohort, Cohort]:
    """Sessions without a Headstart brief (before) against sessions with one (after)."""
    return Cohort(label="without brief", with_brief=False), Cohort(
        label="with brief", with_brief=True
    )


# Columns of a cohort's array: one row per task.
TOKENS, COST, MERGED, PENDING, REWORKED, FIRST_TRY = range(6)


def _window(query: ReportQuery, cohort: Cohort) -> ReportQuery:
    """Narrow the query's period to the part inside the cohort's."""
    return query.model_copy(
        update={
            "start": _later(query.start, cohort.start),
            "end": _earlier(query.end, cohort.end),
        }
    )


def _rows(session: Session, query: ReportQuery, cohort: Cohort) -> np.ndarray:
    """Read one row per task of the cohort into an array (see the column indexes above)."""
    table = WorkOutcome
    window = _window(query, cohort)
    # Plain integers convert to an array at once; Money would build a Decimal per row.
    statement = select(
        table.tokens,
        cast(table.__table__.c.cost, BigInteger),
        table.merged_pull_requests,
        case((table.classification == Classification.PENDING.value, 1), else_=0),
        case((table.reworked.is_(True), 1), else_=0),
        case((table.first_try.is_(True), 1), else_=0),
    ).where(table.counted.is_(True))
    if cohort.with_brief is not None:
        statement = statement.where(table.has_brief.is_(cohort.with_brief))
    statement = filter_outcomes(session, statement, window, table)
    # Core execution and plain tuples: numpy probes SQLAlchemy rows slowly, key by key.
    result = session.connection().execute(statement)
    rows = np.array([tuple(row) for row in result], dtype=float).reshape(-1, 6)
    rows[:, COST] /= float(NANOS_PER_USD)
    return rows


def _later(first: datetime | None, second: datetime | None) -> datetime | None:
    values = [value.astimezone(UTC) for value in (first, second) if value is not None]
    return max(values) if values else None


def _earlier(first: datetime | None, second: datetime | None) -> datetime | None:
    values = [value.astimezone(UTC) for value in (first, second) if value is not None]
    return min(values) if values else None


def compare_report(
    session: Session,
    query: ReportQuery,
    before: Cohort,
    after: Cohort,
    *,
    team_scope: str | None = None,
    settings: ReportSettings | None = None,
) -> CompareReport:
    """Compare cohort `after` with cohort `before` on every metric, within the query's filters."""
    settings = settings or ReportSettings()
    query = query.scoped(team_scope).check()
    if before == after:
        raise LedgerInputError(
            "the two cohorts are the same: give different date ranges or --brief to compare "
            "sessions with and without a brief"
        )
    first, second = _rows(session, query, before), _rows(session, query, after)

    warnings = []
    for cohort, rows in ((before, first), (after, second)):
        if len(rows) < settings.min_sample:
            warnings.append(
                f"cohort {cohort.label!r} has {counted(len(rows), 'task')}, "
                f"fewer than {settings.min_sample}: "
                "too few to conclude"
            )

    decided_first, decided_second = _decided(first), _decided(second)
    metrics = [
        _metric("tokens per task", "tokens", first[:, TOKENS], second[:, TOKENS]),
        _metric("cost per task", "USD", first[:, COST], second[:, COST]),
        _cost_per_merged_pr(first, second),
        _metric(
            "first-try success share",
            "share",
            decided_first[:, FIRST_TRY],
            decided_second[:, FIRST_TRY],
        ),
        _metric("rework share", "share", decided_first[:, REWORKED], decided_second[:, REWORKED]),
    ]
    metrics = [_with_interval(metric, values, settings) for metric, values in metrics]
    windows = [_window(query, cohort) for cohort in (before, after)]
    notice = unpriced_notice(
        session, query, periods=[(window.start, window.end) for window in windows], analyzed=True
    )
    return CompareReport(
        query=query,
        before=_summary(before.label, first),
        after=_summary(after.label, second),
        metrics=metrics,
        unpriced=notice["unpriced"],
        warnings=warnings + notice["warnings"],
    )


def _decided(rows: np.ndarray) -> np.ndarray:
    return rows[rows[:, PENDING] == 0]


def _summary(label: str, rows: np.ndarray) -> CohortSummary:
    return CohortSummary(
        label=label,
        tasks=len(rows),
        decided=len(_decided(rows)),
        tokens=int(rows[:, TOKENS].sum()),
        cost=round(float(rows[:, COST].sum()), 9),
        merged_pull_requests=int(rows[:, MERGED].sum()),
    )


Values = tuple[np.ndarray, np.ndarray, Any, np.ndarray, np.ndarray]


def _metric(
    name: str, unit: str, before: np.ndarray, after: np.ndarray
) -> tuple[MetricDifference, Values]:
    first = float(before.mean()) if len(before) else None
    second = float(after.mean()) if len(after) else None
    metric = _difference(name, unit, first, second, len(before), len(after))
    return metric, (before, after, mean, before, after)


def _cost_per_merged_pr(before: np.ndarray, after: np.ndarray) -> tuple[MetricDifference, Values]:
    """Total cost over merged PRs; tasks that merged nothing still add their cost."""
    pairs_before = before[:, [COST, MERGED]]
    pairs_after = after[:, [COST, MERGED]]

    def ratio(pairs: np.ndarray) -> float | None:
        merged = pairs[:, 1].sum()
        return float(pairs[:, 0].sum() / merged) if merged else None

    # The rank test compares cost per merged PR of the tasks that merged at least one.
    def per_task(pairs: np.ndarray) -> np.ndarray:
        merged = pairs[pairs[:, 1] > 0]
        return merged[:, 0] / merged[:, 1]

    metric = _difference(
        "cost per merged PR",
        "USD",
        ratio(pairs_before),
        ratio(pairs_after),
        len(before),
        len(after),
    )
    return metric, (
        pairs_before,
        pairs_after,
        ratio_of_sums,
        per_task(pairs_before),
        per_task(pairs_after),
    )


def _difference(
    name: str, unit: str, before: float | None, after: float | None, n_before: int, n_after: int
) -> MetricDifference:
    difference = after - before if before is not None and after is not None else None
    return MetricDifference(
        metric=name,
        unit=unit,
        before=before,
        after=after,
        difference=difference,
        relative=difference / before if difference is not None and before else None,
        ci_low=None,
        ci_high=None,
        p_value=None,
        n_before=n_before,
        n_after=n_after,
    )


def _with_interval(
    metric: MetricDifference, values: Values, settings: ReportSettings
) -> MetricDifference:
    before, after, statistic, ranked_before, ranked_after = values
    interval = bootstrap_difference(
        before,
        after,
        statistic,
        resamples=settings.bootstrap_resamples,
        seed=settings.seed,
    )
    warning = None
    if min(len(before), len(after)) < settings.min_sample:
        warning = (
            f"{len(before)} vs {counted(len(after), 'task')}, "
            f"fewer than {settings.min_sample} in a cohort: "
            "too few to conclude"
        )
    return metric.model_copy(
        update={
            "ci_low": interval[0] if interval else None,
            "ci_high": interval[1] if interval else None,
            "p_value": rank_test(ranked_before, ranked_after),
            "warning": warning,
        }
    )
