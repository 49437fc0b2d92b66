"""Draw the dashboard's charts as inline SVG, on the server, with no JavaScript and no CDN.

Every chart is an `<svg class="chart">` element whose `data-series` attribute contains the exact
numbers drawn, as JSON, so a reader can copy them and a browser test can check them. Each mark
carries a `<title>` with its label and value, which browsers show on hover.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

WIDTH = 640
HEIGHT = 280
MARGIN_LEFT = 72
MARGIN_RIGHT = 16
MARGIN_TOP = 30
MARGIN_BOTTOM = 76

# Okabe–Ito colours, which stay distinct for the common forms of colour blindness.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

Format = Callable[[float], str]


@dataclass
class Series:
    """One named line or set of bars, with one value per category (None where there is none)."""

    name: str
    values: list[float | None]
    color: str | None = None


@dataclass
class Interval:
    """A point estimate with a confidence interval, one row of an interval chart."""

    label: str
    value: float
    low: float | None = None
    high: float | None = None
    note: str = ""


@dataclass
class Chart:
    """A drawn chart: its SVG markup and the numbers behind it."""

    key: str
    svg: str
    data: dict[str, object] = field(default_factory=dict)


def usd(value: float) -> str:
    """Format dollars for an axis or a tooltip: $1.2k, $35, $0.42."""
    size = abs(value)
    if size >= 1_000_000:
        return f"${value / 1_000_000:.1f}M"
    if size >= 1_000:
        return f"${value / 1_000:.1f}k"
    if size >= 10 or value == 0:
        return f"${value:.0f}"
    return f"${value:.2f}"


def plain(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 1_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:.3g}"


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Return round tick values (steps of 1, 2 or 5 times a power of ten) covering low..high."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(power * m for m in (1, 2, 5, 10) if power * m >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value < high + step / 2:
        # Adding 0.0 turns a rounded -0.0 into 0.0, which would otherwise print as "-0".
        ticks.append(round(value, 10) + 0.0)
        value += step
    return ticks


def _svg(key: str, title: str, data: dict[str, object], body: list[str]) -> str:
    series_json = escape(json.dumps(data, separators=(",", ":")), quote=True)
    return (
        f'<svg class="chart" data-chart="{escape(key)}" data-series="{series_json}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _empty(key: str, title: str, data: dict[str, object]) -> Chart:
    body = [
        (
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            "No data for these filters</text>"
        )
    ]
    return Chart(key=key, svg=_svg(key, title, data, body), data=data)


def _y_axis(ticks: list[float], scale: Callable[[float], float], fmt: Format) -> list[str]:
    parts = []
    for tick in ticks:
        y = scale(tick)
        parts.append(
            f'<line class="grid" x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(fmt(tick))}</text>'
        )
    return parts


def _x_labels(categories: Sequence[str], center: Callable[[int], float]) -> list[str]:
    # Long runs of dates would overlap, so label at most about twelve of them.
    stride = max(1, math.ceil(len(categories) / 12))
    parts = []
    for index, label in enumerate(categories):
        if index % stride:
            continue
        x = center(index)
        y = HEIGHT - MARGIN_BOTTOM + 14
        parts.append(
            f'<text class="tick" x="{x:.1f}" y="{y}" text-anchor="end" '
            f'transform="rotate(-35 {x:.1f} {y})">{escape(label)}</text>'
        )
    return parts


def _legend(series: Sequence[Series]) -> list[str]:
    # Above the plot, where the rotated category labels below cannot overlap it.
    parts = []
    x = MARGIN_LEFT
    y = 14
    for index, item in enumerate(series):
        color = item.color or PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{color}"/>'
            f'<text class="legend" x="{x + 14}" y="{y}">{escape(item.name)}</text>'
        )
        x += 24 + 7 * len(item.name)
    return parts


def _series_data(categories: Sequence[str], series: Sequence[Series]) -> dict[str, object]:
    return {
        "categories": list(categories),
        "series": [{"name": item.name, "values": list(item.values)} for item in series],
    }


def line_chart(
    key: str, title: str, categories: Sequence[str], series: Sequence[Series], fmt: Format = usd
) -> Chart:
    """Draw one line per series over the categories (usually dates), from zero up."""
    data = _series_data(categories, series)
    values = [value for item in series for value in item.values if value is not None]
    if not categories or not values:
        return _empty(key, title, data)

    ticks = nice_ticks(min(0.0, min(values)), max(values))
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT

    def scale(value: float) -> float:
        return MARGIN_TOP + plot_height * (1 - (value - ticks[0]) / (ticks[-1] - ticks[0]))

    def center(index: int) -> float:
        if len(categories) == 1:
            return MARGIN_LEFT + plot_width / 2
        return MARGIN_LEFT + plot_width * index / (len(categories) - 1)

    body = _y_axis(ticks, scale, fmt) + _x_labels(categories, center)
    for number, item in enumerate(series):
        color = item.color or PALETTE[number % len(PALETTE)]
        points = [
            (center(index), scale(value), categories[index], value)
            for index, value in enumerate(item.values)
            if value is not None
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        body.append(
            f'<polyline class="line" data-name="{escape(item.name)}" points="{path}" '
            f'fill="none" stroke="{color}" stroke-width="2"/>'
        )
        for x, y, label, value in points:
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}">'
                f"<title>{escape(item.name)}, {escape(label)}: {escape(fmt(value))}</title></circle>"
            )
    body += _legend(series)
    return Chart(key=key, svg=_svg(key, title, data, body), data=data)


def bar_chart(
    key: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    fmt: Format = usd,
    *,
    stacked: bool = False,
) -> Chart:
    """Draw bars per category: side by side, or stacked when the series add up to a whole."""
    data = _series_data(categories, series)
    data["stacked"] = stacked
    if not categories or not any(v is not None for item in series for v in item.values):
        return _empty(key, title, data)

    if stacked:
        totals = [
            sum(item.values[index] or 0 for item in series) for index in range(len(categories))
        ]
        top = max(totals)
        bottom = 0.0
    else:
        values = [v for item in series for v in item.values if v is not None]
        top = max(values)
        bottom = min(0.0, min(values))
    ticks = nice_ticks(bottom, top)
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    slot = plot_width / len(categories)

    def scale(value: float) -> float:
        return MARGIN_TOP + plot_height * (1 - (value - ticks[0]) / (ticks[-1] - ticks[0]))

    def center(index: int) -> float:
        return MARGIN_LEFT + slot * (index + 0.5)

    body = _y_axis(ticks, scale, fmt) + _x_labels(categories, center)
    bar_width = slot * 0.7 if stacked else slot * 0.7 / max(1, len(series))
    for index, category in enumerate(categories):
        base = 0.0
        for number, item in enumerate(series):
            value = item.values[index]
            if value is None:
                continue
            color = item.color or PALETTE[number % len(PALETTE)]
            if stacked:
                x = center(index) - bar_width / 2
                y_top, y_bottom = scale(base + value), scale(base)
                base += value
            else:
                x = center(index) - slot * 0.35 + number * bar_width
                y_top, y_bottom = scale(max(value, 0.0)), scale(min(value, 0.0))
            body.append(
                f'<rect class="bar" data-name="{escape(item.name)}" x="{x:.1f}" '
                f'y="{y_top:.1f}" width="{bar_width:.1f}" height="{max(y_bottom - y_top, 0):.1f}" '
                f'fill="{color}"><title>{escape(item.name)}, {escape(category)}: '
                f"{escape(fmt(value))}</title></rect>"
            )
    body += _legend(series)
    return Chart(key=key, svg=_svg(key, title, data, body), data=data)


def interval_chart(key: str, title: str, rows: Sequence[Interval], fmt: Format = percent) -> Chart:
    """Draw one horizontal row per estimate: a dot at the value and a whisker for its interval.

    A vertical line marks zero, so an interval that crosses it shows a difference that the
    samples do not establish.
    """
    data: dict[str, object] = {
        "rows": [
            {"label": row.label, "value": row.value, "low": row.low, "high": row.high}
            for row in rows
        ]
    }
    if not rows:
        return _empty(key, title, data)

    bounds = [0.0]
    for row in rows:
        bounds += [row.value] + [v for v in (row.low, row.high) if v is not None]
    ticks = nice_ticks(min(bounds), max(bounds))
    label_width = 170
    left = MARGIN_LEFT + label_width - 40
    plot_width = WIDTH - left - MARGIN_RIGHT
    row_height = (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM) / len(rows)

    def scale(value: float) -> float:
        return left + plot_width * (value - ticks[0]) / (ticks[-1] - ticks[0])

    body = []
    for tick in ticks:
        x = scale(tick)
        css = "zero" if tick == 0 else "grid"
        body.append(
            f'<line class="{css}" x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" '
            f'y2="{HEIGHT - MARGIN_BOTTOM}"/>'
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" '
            f'text-anchor="middle">{escape(fmt(tick))}</text>'
        )
    for index, row in enumerate(rows):
        y = MARGIN_TOP + row_height * (index + 0.5)
        color = PALETTE[0] if not row.note else PALETTE[3]
        detail = fmt(row.value)
        if row.low is not None and row.high is not None:
            body.append(
                f'<line class="whisker" x1="{scale(row.low):.1f}" x2="{scale(row.high):.1f}" '
                f'y1="{y:.1f}" y2="{y:.1f}" stroke="{color}" stroke-width="2"/>'
            )
            detail += f" ({fmt(row.low)} to {fmt(row.high)})"
        if row.note:
            detail += f"; {row.note}"
        body.append(
            f'<text class="tick" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(row.label)}</text>"
            f'<circle class="estimate" cx="{scale(row.value):.1f}" cy="{y:.1f}" r="4" '
            f'fill="{color}"><title>{escape(row.label)}: {escape(detail)}</title></circle>'
        )
    return Chart(key=key, svg=_svg(key, title, data, body), data=data)
