"""Each report over the scenario ledger (scenario.py), against figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from scipy.stats import mannwhitneyu
from tests.ledger.reports.scenario import NOW, march

from headstart.ledger.reports import (
    Cohort,
    ReportQuery,
    ReportScopeError,
    ReportSettings,
    brief_cohorts,
    budget_report,
    compare_report,
    efficiency_report,
    report_options,
    sessions_report,
    spend_report,
    verdict_report,
)

MARCH = ReportQuery(start=march(1, 0), end=datetime(2024, 4, 1, tzinfo=UTC))
ALL = ReportQuery(start=march(1, 0), end=datetime(2024, 4, 16, tzinfo=UTC), granularity="month")


def test_spend_by_team_with_baseline_and_growth(scenario) -> None:
    ledger, _teams, _shas = scenario
    with ledger.session() as session:
        report = spend_report(session, ALL, dimension="team")

    assert report.buckets == [date(2024, 3, 1), date(2024, 4, 1)]
    assert report.cost == Decimal(62)
    series = {item.key: item for item in report.series}
    assert [point.cost for point in series["platform"].points] == [Decimal(53), Decimal(3)]
    assert [point.cost for point in series["web"].points] == [Decimal(6), Decimal(0)]
    assert series["platform"].points[1].growth == pytest.approx((3 - 53) / 53)
    assert series["platform"].growth == pytest.approx(3 / 53 - 1)
    assert series["web"].growth is None
    assert [(p.cost, p.groups, p.per_group) for p in report.baseline] == [
        (Decimal(59), 2, Decimal("29.5")),
        (Decimal(3), 1, Decimal(3)),
    ]
    # platform spent 56 against an average of 29.5 + 3 per team.
    assert series["platform"].vs_baseline == pytest.approx(56 / 32.5)


def test_spend_by_type_of_work(scenario) -> None:
    ledger, _teams, _shas = scenario
    with ledger.session() as session:
        query = ReportQuery(start=MARCH.start, end=MARCH.end, granularity="month")
        report = spend_report(session, query, dimension="work_type")

    assert {item.key: item.cost for item in report.series} == {
        "feature": Decimal(42),
        "bugfix": Decimal(9),
        "refactor": Decimal(5),
        "(none)": Decimal(3),
    }


def test_team_scope_sees_only_its_team(scenario) -> None:
    ledger, _teams, _shas = scenario
    with ledger.session() as session:
        report = spend_report(session, ALL, dimension="engineer", team_scope="web")
        efficiency = efficiency_report(session, ALL, team_scope="web")
        listing = sessions_report(session, ALL, team_scope="web")
        with pytest.raises(ReportScopeError, match="'platform' is outside"):
            spend_report(session, ALL.model_copy(update={"team": "platform"}), team_scope="web")

    assert [item.key for item in report.series] == ["bob@example.com"]
    assert report.cost == Decimal(6)
    # The baseline is the whole organisation's, without naming other teams.
    assert report.baseline[0].cost == Decimal(59)
    assert [split.key for split in efficiency.teams] == ["web"]
    assert {item.team for item in listing.items} == {"web"}
    assert listing.total == 4


def test_efficiency_split(scenario) -> None:
    ledger, _teams, _shas = scenario
    with ledger.session() as session:
        report = efficiency_report(session, ALL)

    assert report.overall.by_class == {
        "productive": Decimal(6),
        "inefficient": Decimal(41),
        "wasteful": Decimal(9),
        "pending": Decimal(3),
        "unanalyzed": Decimal(3),
    }
    assert report.overall.shares["inefficient"] == pytest.approx(41 / 62)
    teams = {split.key: split for split in report.teams}
    assert teams["web"].by_class["wasteful"] == Decimal(6)
    assert teams["web"].shares["wasteful"] == 1.0
    assert teams["platform"].cost == Decimal(56)
    engineers = {split.key: split for split in report.engineers}
    assert engineers["ada@example.com"].team == "platform"


def test_budgets_judge_the_period_the_query_ends_in(scenario) -> None:
    ledger, teams, _shas = scenario
    with ledger.session() as session:
        report = budget_report(session, MARCH, teams.budgets)

    # MARCH ends at April 1, exclusive: its last instant is in March, so March is judged.
    platform = next(item for item in report.teams if item.team == "platform")
    assert (platform.period_start, platform.period_end) == (date(2024, 3, 1), date(2024, 4, 1))
    assert platform.spent > 0


def test_budgets_burn_forecast_and_outliers(scenario) -> None:
    ledger, teams, _shas = scenario
    as_of = march(16, 0)
    with ledger.session() as session:
        report = budget_report(
            session, MARCH.model_copy(update={"end": as_of}), teams.budgets, as_of=as_of
        )

    status = {item.team: item for item in report.teams}
    platform, web = status["platform"], status["web"]
    assert (platform.period_start, platform.period_end) == (date(2024, 3, 1), date(2024, 4, 1))
    assert platform.spent == Decimal(53)
    # 53 over 15 days, and 31 days at that rate.
    assert platform.burn_per_day == Decimal("3.533333")
    assert platform.forecast == Decimal("109.533333")
    assert (platform.over_budget, platform.will_exceed) == (False, True)
    assert (web.spent, web.over_budget, web.forecast) == (Decimal(6), True, Decimal("12.4"))

    # platform's daily spend: 3, 30, 3, 6, 5, 3, 3. The MAD is 0, so the mean absolute deviation
    # (32/7) scales it: z = 27 / (1.253314 * 32/7) = 4.71 for the 30.
    assert [(o.kind, o.key, o.team, o.cost) for o in report.outliers] == [
        ("team_day", "2024-03-05", "platform", Decimal(30))
    ]
    assert report.outliers[0].z == pytest.approx(27 / (1.253314 * 32 / 7), abs=1e-3)


def test_verdicts_keep_scope_cut(scenario) -> None:
    ledger, _teams, _shas = scenario
    with ledger.session() as session:
        report = verdict_report(session, ALL)

    verdicts = {item.tool: item for item in report.tools}
    assert {tool: item.verdict.value for tool, item in verdicts.items()} == {
        "claude_code": "keep",
        "codex": "cut",
        "cursor": "scope",
    }
    # Organisation: 10 units, 9 decided, 5 succeeded, $59 → $11.80 per productive task.
    assert report.organisation.success_rate == pytest.approx(5 / 9)
    assert report.organisation.cost_per_productive_task == Decimal("11.8")
    claude = verdicts["claude_code"].stats
    assert (claude.tasks, claude.success_rate, claude.cost_per_productive_task) == (
        5,
        1.0,
        Decimal("11.25"),
    )
    assert claude.tokens_per_task == 15_000_000 / 5
    assert verdicts["cursor"].scope_to == ["refactor"]
    assert verdicts["cursor"].stats.success_rate == 0.5
    assert verdicts["codex"].stats.cost_per_productive_task is None
    assert "no productive task" in " ".join(verdicts["codex"].evidence)
    assert (
        verdicts["codex"].warning
        == "only 3 tasks (fewer than 20): treat this verdict as provisional"
    )
    models = {item.key: item for item in report.models}
    assert models["test-opus"].cost_per_task == Decimal(5)


def test_before_after_by_brief_is_too_small(scenario) -> None:
    ledger, _teams, _shas = scenario
    without, with_brief = brief_cohorts()
    with ledger.session() as session:
        report = compare_report(session, ALL, without, with_brief)
        again = compare_report(session, ALL, without, with_brief)

    assert (report.before.tasks, report.after.tasks) == (8, 2)
    metrics = {item.metric: item for item in report.metrics}
    tokens = metrics["tokens per task"]
    assert (tokens.before, tokens.after) == (17_000_000 / 8, 1_000_000)
    assert tokens.difference == pytest.approx(1_000_000 - 2_125_000)
    assert metrics["cost per task"].difference == pytest.approx(3 - 53 / 8)
    assert (metrics["cost per merged PR"].before, metrics["cost per merged PR"].after) == (26.5, 6)
    assert metrics["first-try success share"].before == pytest.approx(2 / 7)
    assert metrics["first-try success share"].after == 1.0
    assert metrics["rework share"].before == pytest.approx(1 / 7)
    assert report.warnings == [
        "cohort 'without brief' has 8 tasks, fewer than 20: too few to conclude",
        "cohort 'with brief' has 2 tasks, fewer than 20: too few to conclude",
    ]
    assert all(item.warning for item in report.metrics)
    expected = mannwhitneyu(
        [1e6, 1e6], [10e6, 2e6, 1e6, 1e6, 0.5e6, 0.5e6, 1e6, 1e6], alternative="two-sided"
    ).pvalue
    assert tokens.p_value == pytest.approx(expected)
    assert tokens.ci_low <= tokens.difference <= tokens.ci_high
    # The bootstrap is seeded, so the same question gets the same interval.
    assert again.metrics == report.metrics


def test_before_after_by_date_range(scenario) -> None:
    ledger, _teams, _shas = scenario
    before = Cohort(label="early March", start=march(1, 0), end=march(9, 0))
    after = Cohort(label="since", start=march(9, 0), end=NOW)
    with ledger.session() as session:
        report = compare_report(session, ALL, before, after, settings=ReportSettings(min_sample=5))

    assert (report.before.tasks, report.after.tasks) == (5, 5)
    assert report.warnings == []
    tokens = {item.metric: item for item in report.metrics}["tokens per task"]
    assert (tokens.before, tokens.after) == (3_000_000, 800_000)
    assert tokens.warning is None


def test_sessions_listing(scenario) -> None:
    ledger, _teams, _shas = scenario
    with ledger.session() as session:
        wasteful = sessions_report(session, ALL, classification="wasteful", unit="session")
        page = sessions_report(session, ALL, unit="session", limit=3)

    assert wasteful.total == 4
    assert wasteful.counts == {"productive": 2, "inefficient": 3, "wasteful": 4, "pending": 1}
    assert {item.session for item in wasteful.items} == {"s6", "s7", "s8", "s10"}
    assert [item.session for item in page.items] == ["s2", "s4", "s5"]
    assert page.next_offset == 3
    assert page.items[0].reasons[1].startswith("cost $30.00 is 10.0x")


def test_report_options(scenario) -> None:
    ledger, _teams, _shas = scenario
    with ledger.session() as session:
        everything = report_options(session, None)
        scoped = report_options(session, "web")

    assert everything.teams == ["platform", "web"]
    assert everything.tools == ["claude_code", "codex", "cursor"]
    assert (scoped.teams, scoped.tools) == (["web"], ["claude_code", "codex", "cursor"])
