"""Charts as server-rendered SVG: no script, readable as an image with a title and a description.

Each function takes plain numbers and returns one `<svg role="img">` whose `<title>` and `<desc>`
say what it shows and the main figures; pages show the same numbers in a table next to it
(templates/organize/activity.html). Colours come from classes (`series-1` ... in web/static/charts.css),
so the charts follow the light and dark themes and need no style attribute (the pages' CSP).
Sizes are in viewBox units: the chart scales to its box, 400 units wide, text 11 units high.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 400
FONT = 11
BAR = 7  # the thickness of a horizontal bar
PALETTE_SIZE = 6  # series-1 .. series-6 in charts.css


@dataclass(frozen=True)
class Series:
    """One kind of value in a chart: its name in the legend and its colour class (1 to PALETTE_SIZE)."""

    name: str
    colour: int


def _number(value: float) -> str:
    """A coordinate, short: 12 rather than 12.0, 12.35 rather than 12.345678."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _svg(
    chart_id: str, title: str, desc: str, height: float, body: list[str], kind: str, width: float = WIDTH
) -> Markup:
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    return Markup(
        f'<svg class="chart chart-{kind}" id="{escape(chart_id)}" role="img" viewBox="0 0 {_number(width)} {_number(height)}"'
        f' aria-labelledby="{escape(title_id)}" aria-describedby="{escape(desc_id)}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(title_id)}">{escape(title)}</title><desc id="{escape(desc_id)}">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _legend(series: Sequence[Series], y: float, room: float = WIDTH) -> tuple[list[str], float]:
    """Coloured squares and names in rows across the chart; the parts and the height they take."""
    parts, x, row = [], 0.0, 0
    for item in series:
        width = 14 + len(item.name) * FONT * 0.55 + 12
        if x and x + width > room:
            x, row = 0.0, row + 1
        top = y + row * (FONT + 6)
        parts.append(
            f'<rect class="series-{item.colour}" x="{_number(x)}" y="{_number(top + 1)}" width="10" height="10"/>'
            f'<text x="{_number(x + 14)}" y="{_number(top + FONT - 1)}">{escape(item.name)}</text>'
        )
        x += width
    return parts, (row + 1) * (FONT + 6) + 4


def _fit(text: str, room: float) -> str:
    """`text` cut with an ellipsis to about `room` units of width (the full text is in the table)."""
    most = max(4, int(room / (FONT * 0.55)))
    return text if len(text) <= most else text[: most - 1].rstrip() + "\u2026"


def bar_groups(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Sequence[int]],
) -> Markup:
    """Horizontal bars: for each label (a unit, say) one bar per series, all on one scale, each with its number."""
    body, height = _legend(series, 0)
    top = max((value for row in values for value in row), default=0) or 1
    room = WIDTH - 40  # space for the number after the longest bar
    for label, row in zip(labels, values, strict=True):
        body.append(f'<text class="chart-label" x="0" y="{_number(height + FONT)}">{escape(_fit(label, WIDTH))}</text>')
        height += FONT + 4
        for item, value in zip(series, row, strict=True):
            length = room * value / top
            body.append(
                f'<rect class="series-{item.colour}" x="0" y="{_number(height)}" width="{_number(max(length, 0.5))}"'
                f' height="{BAR}"><title>{escape(item.name)}: {value}</title></rect>'
                f'<text class="chart-value" x="{_number(length + 3)}" y="{_number(height + BAR - 0.5)}">{value}</text>'
            )
            height += BAR + 2
        height += 8
    return _svg(chart_id, title, desc, height, body, "bars")


def columns(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    values: Sequence[Sequence[int]],
    *,
    top: int | None = None,
    plot_height: float = 110,
    legend: bool = True,
    caption: str = "",
    width: float = WIDTH,
) -> Markup:
    """Stacked columns over time or buckets: one column per label, its series stacked from the baseline.

    `top` fixes the scale (small multiples compare on one scale); the first, last and a few labels in
    between are written under the axis, `caption` under them, the highest total beside the axis.
    A smaller `width` suits a small chart: its text stays as large as the others'."""
    body, legend_height = _legend(series, 0, width) if legend else ([], 0.0)
    totals = [sum(row) for row in values]
    top = top or max(totals, default=0) or 1
    axis = 28.0  # room for the scale's numbers on the left
    base = legend_height + plot_height
    step = (width - axis) / max(1, len(labels))
    gap = min(2.0, step * 0.2)
    body.append(
        f'<line class="chart-axis" x1="{axis}" y1="{_number(base)}" x2="{_number(width)}" y2="{_number(base)}"/>'
        f'<line class="chart-grid" x1="{axis}" y1="{_number(legend_height)}" x2="{_number(width)}"'
        f' y2="{_number(legend_height)}"/>'
        f'<text class="chart-value" x="{axis - 3}" y="{_number(legend_height + FONT * 0.4)}" text-anchor="end">{top}</text>'
        f'<text class="chart-value" x="{axis - 3}" y="{_number(base)}" text-anchor="end">0</text>'
    )
    for index, (label, row) in enumerate(zip(labels, values, strict=True)):
        x, y = axis + index * step + gap / 2, base
        for item, value in zip(series, row, strict=True):
            if not value:
                continue
            size = plot_height * value / top
            y -= size
            body.append(
                f'<rect class="series-{item.colour}" x="{_number(x)}" y="{_number(y)}" width="{_number(step - gap)}"'
                f' height="{_number(size)}"><title>{escape(label)}, {escape(item.name)}: {value}</title></rect>'
            )
    for index in _tick_indexes(len(labels), int((width - axis) // 70) or 1):
        x = axis + (index + 0.5) * step
        anchor = "middle"
        if len(labels) > 1 and index == 0:
            anchor = "start"
        elif len(labels) > 1 and index == len(labels) - 1:
            anchor = "end"
        body.append(
            f'<text class="chart-label" x="{_number(x)}" y="{_number(base + FONT + 3)}" text-anchor="{anchor}">'
            f"{escape(labels[index])}</text>"
        )
    height = base + FONT + 6
    if caption:
        middle = axis + (width - axis) / 2
        body.append(
            f'<text class="chart-value" x="{_number(middle)}" y="{_number(height + FONT)}" text-anchor="middle">'
            f"{escape(caption)}</text>"
        )
        height += FONT + 4
    return _svg(chart_id, title, desc, height, body, "columns", width)


def _tick_indexes(count: int, most: int) -> list[int]:
    """Which of `count` labels to write under the axis: the first, the last, evenly between, at most `most`."""
    if count <= 0:
        return []
    if count <= most:
        return list(range(count))
    steps = max(1, most - 1)
    return sorted({round(i * (count - 1) / steps) for i in range(steps + 1)})
