"""The dashboard's filters, read from a page's query string and written back into its links.

The period is given in whole UTC days, `start` to `end` inclusive, as a person reads a date
range. The ledger's reports take `end` as exclusive, so `query()` adds a day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from fastapi import HTTPException

from headstart.ledger.reports.query import Granularity, ReportQuery

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class Filters:
    """A period of whole days, a granularity, optional team and tool filters, and the date that
    splits the before/after comparison (without one, it compares work with and without a brief)."""

    start: date
    end: date
    granularity: Granularity
    team: str | None = None
    tool: str | None = None
    split: date | None = None
    chosen_granularity: bool = False

    def query(self) -> ReportQuery:
        return ReportQuery(
            start=datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC),
            end=datetime(self.end.year, self.end.month, self.end.day, tzinfo=UTC)
            + timedelta(days=1),
            granularity=self.granularity,
            team=self.team,
            tool=self.tool,
        )

    def with_team(self, team: str | None) -> Filters:
        return replace(self, team=team)

    def params(self, *, team: bool = True) -> str:
        """Return the filters as a query string, leaving out what is unset or automatic."""
        values: dict[str, str] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.chosen_granularity:
            values["granularity"] = self.granularity.value
        if team and self.team:
            values["team"] = self.team
        if self.tool:
            values["tool"] = self.tool
        if self.split:
            values["split"] = self.split.isoformat()
        return urlencode(values)


def automatic_granularity(days: int) -> Granularity:
    """Pick a bucket size that keeps a time series between a handful and a few dozen points."""
    if days <= 45:
        return Granularity.DAY
    if days <= 200:
        return Granularity.WEEK
    return Granularity.MONTH


def _date(params: Mapping[str, str], name: str) -> date | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise HTTPException(
            status_code=400, detail=f"invalid {name} {text!r}: expected a date as YYYY-MM-DD"
        ) from exc


def parse_filters(params: Mapping[str, str], today: date | None = None) -> Filters:
    """Read filters from query parameters; the default period is the `DEFAULT_DAYS` to today.

    Raises 400 for a date that does not parse, a start after the end, a period longer than
    `MAX_DAYS`, or an unknown granularity.
    """
    today = today or datetime.now(UTC).date()
    end = _date(params, "end") or today
    start = _date(params, "start") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise HTTPException(
            status_code=400,
            detail=f"invalid period: start {start.isoformat()} is after end {end.isoformat()}",
        )
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise HTTPException(
            status_code=400,
            detail=f"the period has {days} days, more than the dashboard's {MAX_DAYS}: shorten it",
        )

    text = (params.get("granularity") or "").strip()
    try:
        granularity = Granularity(text) if text else automatic_granularity(days)
    except ValueError as exc:
        raise HTTPException(
            status_code=400,
            detail=f"invalid granularity {text!r}: use day, week or month",
        ) from exc

    split = _date(params, "split")
    if split is not None and not start < split <= end:
        raise HTTPException(
            status_code=400,
            detail=(
                f"invalid split {split.isoformat()}: the before/after split must fall after "
                f"the period's first day {start.isoformat()} and on or before its last day "
                f"{end.isoformat()}"
            ),
        )

    return Filters(
        start=start,
        end=end,
        granularity=granularity,
        team=(params.get("team") or "").strip() or None,
        tool=(params.get("tool") or "").strip() or None,
        split=split,
        chosen_granularity=bool(text),
    )
