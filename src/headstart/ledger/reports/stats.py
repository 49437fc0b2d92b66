"""Robust statistics for reports: MAD outliers, bootstrap intervals and a rank test."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import median
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu

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


# A statistic of rows, vectorized: it maps the last row axis away, so it takes one sample
# (n values, or n value pairs) or a batch of resamples (b x n, or b x n x 2).
Statistic = Callable[[np.ndarray], Any]

# Rows drawn per bootstrap resample at most, and values drawn per vectorized batch.
MAX_RESAMPLE_ROWS = 1000
BATCH_VALUES = 2_000_000


def _resampled(
    values: np.ndarray, statistic: Statistic, rng: np.random.Generator, resamples: int
) -> np.ndarray:
    """Return the statistic of `resamples` bootstrap resamples of `values`.

    A cohort larger than `MAX_RESAMPLE_ROWS` is resampled m-out-of-n (m = that limit), and each
    deviation from the full-sample statistic is scaled by sqrt(m/n) back to the spread of a
    sample of n, which holds for smooth statistics such as means and ratios of sums.
    """
    n = len(values)
    m = min(n, MAX_RESAMPLE_ROWS)
    out = np.empty(resamples)
    per_batch = max(1, BATCH_VALUES // m)
    for start in range(0, resamples, per_batch):
        size = min(per_batch, resamples - start)
        picks = rng.integers(0, n, size=(size, m), dtype=np.int32)
        out[start : start + size] = statistic(values[picks])
    if m < n:
        full = float(statistic(values))
        out = full + np.sqrt(m / n) * (out - full)
    return out


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
        first = _resampled(np.asarray(before, dtype=float), statistic, rng, resamples)
        second = _resampled(np.asarray(after, dtype=float), statistic, rng, resamples)
    differences = second - first
    differences = differences[np.isfinite(differences)]
    if differences.size == 0:
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(differences, [tail, 100 - tail])
    return float(low), float(high)


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
