"""Reports for leaders: spend, efficiency, budgets, verdicts, before/after, and the work behind them.

Every report is a function of an SQLAlchemy session and a `ReportQuery`, returns a pydantic
model, and takes `team_scope` so a team's caller sees only its team. `analyze_outcomes` links
sessions and tasks to their commits and judges them; the efficiency, verdict, comparison and
sessions reports read what it stored.
"""

from headstart.ledger.reports.budgets import BudgetReport, BudgetStatus, Outlier, budget_report
from headstart.ledger.reports.classes import Classification, WorkType
from headstart.ledger.reports.compare import (
    Cohort,
    CohortSummary,
    CompareReport,
    MetricDifference,
    brief_cohorts,
    compare_report,
)
from headstart.ledger.reports.efficiency import EfficiencyReport, EfficiencySplit, efficiency_report
from headstart.ledger.reports.options import ReportOptions, report_options
from headstart.ledger.reports.outcomes import AnalysisSummary, analyze_outcomes
from headstart.ledger.reports.query import Granularity, ReportQuery, ReportScopeError
from headstart.ledger.reports.sessions import SessionsReport, WorkItem, sessions_report
from headstart.ledger.reports.settings import ReportSettings
from headstart.ledger.reports.spend import (
    BaselinePoint,
    Dimension,
    SpendPoint,
    SpendReport,
    SpendSeries,
    spend_report,
)
from headstart.ledger.reports.verdicts import (
    ToolVerdict,
    UsageStats,
    Verdict,
    VerdictReport,
    verdict_report,
)

__all__ = [
    "AnalysisSummary",
    "BaselinePoint",
    "BudgetReport",
    "BudgetStatus",
    "Classification",
    "Cohort",
    "CohortSummary",
    "CompareReport",
    "Dimension",
    "EfficiencyReport",
    "EfficiencySplit",
    "Granularity",
    "MetricDifference",
    "Outlier",
    "ReportOptions",
    "ReportQuery",
    "ReportScopeError",
    "ReportSettings",
    "SessionsReport",
    "SpendPoint",
    "SpendReport",
    "SpendSeries",
    "ToolVerdict",
    "UsageStats",
    "Verdict",
    "VerdictReport",
    "WorkItem",
    "WorkType",
    "analyze_outcomes",
    "brief_cohorts",
    "budget_report",
    "compare_report",
    "efficiency_report",
    "report_options",
    "sessions_report",
    "spend_report",
    "verdict_report",
]
