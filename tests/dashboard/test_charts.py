"""The SVG charts (series, scales, escaping of names) and the threads that panels run in."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from headstart.server.dashboard.charts import (
    Interval,
    Series,
    bar_chart,
    interval_chart,
    line_chart,
    nice_ticks,
    usd,
)


def data_series(svg: str) -> dict:
    match = re.search(r'data-series="([^"]*)"', svg)
    assert match is not None
    return json.loads(unescape(match.group(1)))


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0, 3, [0, 1, 2, 3]),
        (0, 93, [0, 20, 40, 60, 80, 100]),
        (-0.5, 0.3, [-0.6, -0.4, -0.2, 0, 0.2, 0.4]),
        (0, 0, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    ],
)
def test_nice_ticks(low: float, high: float, expected: list[float]) -> None:
    ticks = nice_ticks(low, high)

    assert ticks == pytest.approx(expected)
    assert "-0" not in [usd(tick) for tick in ticks]


def test_line_chart_series() -> None:
    chart = line_chart(
        "spend",
        "Spend",
        ["2026-03-01", "2026-03-02"],
        [Series("a", [1.0, 2.5]), Series("b", [None, 1.0])],
    )

    assert data_series(chart.svg) == {
        "categories": ["2026-03-01", "2026-03-02"],
        "series": [{"name": "a", "values": [1.0, 2.5]}, {"name": "b", "values": [None, 1.0]}],
    }
    assert chart.svg.count("<polyline") == 2
    assert chart.svg.count("<circle") == 3


def test_names_escaped() -> None:
    name = '<script>alert("x")</script>'
    chart = bar_chart("budget", "Budget", [name], [Series(name, [1.0])])

    assert "<script>" not in chart.svg
    assert data_series(chart.svg)["categories"] == [name]


def test_stacked_bars_fill_plot() -> None:
    chart = bar_chart(
        "efficiency",
        "Split",
        ["t"],
        [Series("productive", [0.75]), Series("wasteful", [0.25])],
        stacked=True,
    )
    heights = [
        float(h) for h in re.findall(r'<rect class="bar"[^>]* height="([0-9.]+)"', chart.svg)
    ]

    assert len(heights) == 2
    assert heights[0] == pytest.approx(3 * heights[1], rel=0.01)


def test_empty_chart() -> None:
    chart = line_chart("spend", "Spend", [], [])

    assert "No data for these filters" in chart.svg
    assert data_series(chart.svg) == {"categories": [], "series": []}


def test_interval_chart_rows() -> None:
    chart = interval_chart(
        "compare",
        "Change",
        [Interval("tokens per task", -0.5, -0.6, -0.4), Interval("rework", 0.1, note="too few")],
    )

    assert data_series(chart.svg)["rows"] == [
        {"label": "tokens per task", "value": -0.5, "low": -0.6, "high": -0.4},
        {"label": "rework", "value": 0.1, "low": None, "high": None},
    ]
    assert chart.svg.count('class="whisker"') == 1
    assert 'class="zero"' in chart.svg
