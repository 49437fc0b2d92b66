"""Seeded bootstrap resampling, shared by the ledger's reports and the evaluation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# A statistic of rows, vectorized: it maps the last row axis away, so it takes one sample
# (n values, or n value pairs) or a batch of resamples (b x n, or b x n x 2).
Statistic = Callable[[np.ndarray], Any]

# Rows drawn per bootstrap resample at most, and values drawn per vectorized batch.
MAX_RESAMPLE_ROWS = 1000
BATCH_VALUES = 2_000_000


def resample(values: np.ndarray, statistic: Statistic, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """Return the statistic of `resamples` bootstrap resamples of `values`.

    A sample larger than `MAX_RESAMPLE_ROWS` is resampled m-out-of-n (m = that limit), and each
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


def percentile_interval(statistics: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """Return the bounds of the central `confidence` share of the finite statistics; None when none is finite."""
    finite = statistics[np.isfinite(statistics)]
    if finite.size == 0:
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(finite, [tail, 100 - tail])
    return float(low), float(high)


def mean_interval(
    values: Sequence[float], *, resamples: int, seed: int, confidence: float = 0.95
) -> tuple[float, float] | None:
    """Return the percentile interval of the mean of `values`; None when there are none.

    For paired samples (two rankers scored on the same tasks) pass the per-pair differences:
    resampling the pairs keeps what the two have in common out of the interval.
    """
    if len(values) == 0:
        return None
    rng = np.random.default_rng(seed)
    means = resample(np.asarray(values, dtype=float), lambda rows: rows.mean(axis=-1), rng, resamples)
    return percentile_interval(means, confidence)
