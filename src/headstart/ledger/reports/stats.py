"""Robust statistics for reports: MAD outliers, bootstrap intervals and a rank test."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

from headstart.bootstrap import Statistic, percentile_interval, resample

# Scales the median absolute deviation to a normal distribution's standard deviation
# (Iglewicz and Hoaglin's modified z-score).
MAD_SCALE = 0.6745
# The same for the mean absolute deviation, used when more than half the values are equal.
MEAN_AD_SCALE = 1.253314


def modified_z_scores(values: Sequence[float]) -> tuple[float, float, list[float | None]]:
    """Return (median, MAD, z per value); z is None when every value is the same."""
    if not values:
        return 0.0, 0.0, []
    center = median(values)
    deviations = [abs(value - center) for value in values]
    mad = median(deviations)
    if mad > 0:
        return center, mad, [MAD_SCALE * (value - center) / mad for value in values]

    # More than half the values sit on the median: fall back to the mean absolute deviation.
    mean_ad = sum(deviations) / len(deviations)
    if mean_ad == 0:
        return center, mad, [None for _ in values]
    return center, mad, [(value - center) / (MEAN_AD_SCALE * mean_ad) for value in values]


def bootstrap_difference(
    before: Sequence[Any],
    after: Sequence[Any],
    statistic: Statistic,
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> tuple[float, float] | None:
    """Return the percentile interval of statistic(after) - statistic(before).

    Each cohort's rows are resampled with replacement on their own; the seed makes the interval
    repeatable. None when a cohort is empty or no resample gives a finite difference.
    """
    if len(before) == 0 or len(after) == 0:
        return None
    rng = np.random.default_rng(seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = resample(np.asarray(before, dtype=float), statistic, rng, resamples)
        second = resample(np.asarray(after, dtype=float), statistic, rng, resamples)
    return percentile_interval(second - first, confidence)


def rank_test(before: Sequence[float], after: Sequence[float]) -> float | None:
    """Two-sided Mann-Whitney U p-value, or None when a cohort is empty or all values tie."""
    if len(before) == 0 or len(after) == 0:
        return None
    values = np.concatenate([np.asarray(before, dtype=float), np.asarray(after, dtype=float)])
    if np.all(values == values[0]):
        return None
    return float(mannwhitneyu(after, before, alternative="two-sided").pvalue)


def mean(rows: np.ndarray) -> Any:
    return rows.mean(axis=-1)


def ratio_of_sums(rows: np.ndarray) -> Any:
    """Sum of the first column over sum of the second: cost per merged PR over resampled tasks."""
    top = rows[..., 0].sum(axis=-1)
    bottom = rows[..., 1].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1), np.nan)
