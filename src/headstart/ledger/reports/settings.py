"""The thresholds reports judge by, taken from `Settings` (env `HEADSTART_REPORT_*`)."""

from __future__ import annotations

from pydantic import BaseModel

from headstart.config import Settings, load_settings


class ReportSettings(BaseModel):
    """Thresholds of outcomes, classification, verdicts and statistics; see docs/reports.md."""

    rework_days: int = 14
    abandon_hours: float = 24.0
    cost_ratio: float = 3.0
    min_peers: int = 5
    loop_repeats: int = 3
    move_share: float = 0.5
    expensive_models: list[str] = ["*opus*", "*-pro", "o1", "o1-*", "o3", "o3-pro*", "gpt-4.5*"]
    keep_success: float = 0.6
    cut_success: float = 0.3
    keep_cost_ratio: float = 1.5
    cut_cost_ratio: float = 3.0
    min_sample: int = 20
    outlier_z: float = 3.5
    bootstrap_resamples: int = 2000
    seed: int = 7

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> ReportSettings:
        """Read every `report_*` field of `settings` (default: the environment and config file)."""
        settings = settings or load_settings()
        values = {
            name: getattr(settings, f"report_{name}")
            for name in cls.model_fields
            if hasattr(settings, f"report_{name}")
        }
        return cls(**values)
