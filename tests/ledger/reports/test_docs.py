"""docs/reports.md documents every report setting, with its default."""

from __future__ import annotations

import re
from pathlib import Path

from headstart.config import Settings
from headstart.ledger.reports import ReportSettings

DOC = Path(__file__).parents[3] / "docs" / "reports.md"


def test_every_report_setting_is_documented() -> None:
    rows = re.findall(r"^\| `(report_\w+)` \| ([^|]+) \|", DOC.read_text(), re.MULTILINE)
    documented = {name: default.strip() for name, default in rows}
    fields = {name for name in Settings.model_fields if name.startswith("report_")}

    assert set(documented) == fields
    for name in fields - {"report_expensive_models"}:
        assert documented[name] == str(Settings.model_fields[name].default), name


def test_report_settings_follow_settings() -> None:
    settings = Settings(report_rework_days=3, report_expensive_models=["big-*"])

    rules = ReportSettings.from_settings(settings)

    assert (rules.rework_days, rules.expensive_models) == (3, ["big-*"])
    assert ReportSettings.from_settings(Settings()) == ReportSettings()
