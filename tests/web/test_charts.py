"""web/charts.py: well-formed SVG images with a name and a description, bars to scale, text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from web.charts import WIDTH, Series, _tick_indexes, bar_groups, columns

SVG = "{http://www.w3.org/2000/svg}"
TWO = [Series("sent", 1), Series("opened", 3)]


def parse(markup: str) -> ET.Element:
    """The chart as XML (it must be well-formed to be parsed at all)."""
    return ET.fromstring(str(markup))


def bars(root: ET.Element) -> list[ET.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]


def test_a_chart_is_an_image_named_by_its_title_and_described_by_its_desc() -> None:
    root = parse(bar_groups("c1", "Funnel", "3 units mailed.", ["Welcome"], TWO, [[20, 9]]))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title" and root.get("aria-describedby") == "c1-desc"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.get("id") == "c1-title" and title.text == "Funnel"
    assert desc is not None and desc.get("id") == "c1-desc" and desc.text == "3 units mailed."
    assert root.get("style") is None and "style=" not in str(bar_groups("c", "t", "d", ["a"], TWO, [[1, 1]]))


def test_bars_are_to_one_scale_and_each_says_its_number() -> None:
    root = parse(bar_groups("c", "t", "d", ["Week 1", "Week 2"], TWO, [[20, 10], [5, 0]]))
    widths = [float(rect.get("width", "0")) for rect in bars(root)]
    assert widths[0] == WIDTH - 40 and widths[1] == (WIDTH - 40) / 2 and widths[2] == (WIDTH - 40) / 4
    assert widths[3] == 0.5  # a zero is a sliver, not nothing, next to its "0"
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert ["Week 1", "20", "10", "Week 2", "5", "0"] == [t for t in texts if t not in ("sent", "opened")]
    assert [rect.find(f"{SVG}title").text for rect in bars(root)][:2] == ["sent: 20", "opened: 10"]  # type: ignore[union-attr]


def test_text_from_the_database_is_escaped() -> None:
    evil = '</text><script>alert(1)</script><text x="0'
    markup = str(bar_groups("c", evil, evil, [evil], [Series(evil, 1)], [[1]]))
    assert "<script>" not in markup
    root = parse(markup)
    assert root.find(f"{SVG}title").text == evil  # type: ignore[union-attr]
    assert not list(root.iter(f"{SVG}script"))


def test_columns_stack_their_series_and_skip_zeros() -> None:
    root = parse(columns("c", "Posts", "d", ["1 Dec", "2 Dec", "3 Dec"], TWO, [[2, 2], [0, 0], [1, 0]]))
    drawn = bars(root)
    assert len(drawn) == 3  # two on the first day, none on the second, one on the third
    first, second = drawn[0], drawn[1]
    assert float(first.get("y", 0)) > float(second.get("y", 0))  # the second series sits on the first
    assert float(first.get("height", 0)) == float(second.get("height", 0)) == 110 / 2
    assert drawn[2].find(f"{SVG}title").text == "3 Dec, sent: 1"  # type: ignore[union-attr]


def test_small_multiples_share_the_scale_they_are_given() -> None:
    quiet = parse(columns("a", "t", "d", ["x"], TWO, [[1, 0]], top=4, plot_height=40, legend=False, width=260))
    busy = parse(columns("b", "t", "d", ["x"], TWO, [[4, 0]], top=4, plot_height=40, legend=False, width=260))
    assert float(bars(quiet)[0].get("height", 0)) * 4 == float(bars(busy)[0].get("height", 0)) == 40
    assert quiet.get("viewBox", "").startswith("0 0 260 ")
    assert "4" in [text.text for text in quiet.iter(f"{SVG}text")]  # the scale's top is written


def test_long_labels_are_cut_in_the_picture_not_in_the_title() -> None:
    label = "A unit with a very long title that would not fit on a phone screen at all, really not " * 2
    root = parse(bar_groups("c", "t", "d", [label], TWO, [[1, 1]]))
    written = [text.text or "" for text in root.iter(f"{SVG}text")]
    assert any(text.endswith("\u2026") and len(text) < len(label) for text in written)


def test_the_legend_wraps_within_the_width() -> None:
    many = [Series(f"a rather long series name {n}", n) for n in range(1, 7)]
    root = parse(columns("c", "t", "d", ["x"], many, [[1] * 6]))
    squares = [r for r in root.iter(f"{SVG}rect") if r.get("width") == "10"]
    assert len(squares) == 6 and len({r.get("y") for r in squares}) > 1
    assert all(float(r.get("x", 0)) + 10 <= WIDTH for r in squares)


@given(st.integers(min_value=0, max_value=400), st.integers(min_value=1, max_value=12))
def test_tick_labels_include_both_ends_and_stay_few(count: int, most: int) -> None:
    ticks = _tick_indexes(count, most)
    assert ticks == sorted(set(ticks)) and all(0 <= t < count for t in ticks)
    if count:
        assert ticks[0] == 0 and (ticks[-1] == count - 1 or most == 1)
        assert len(ticks) <= max(most, 2)


def test_numbers_in_coordinates_are_short() -> None:
    markup = str(columns("c", "t", "d", [str(n) for n in range(7)], TWO, [[1, 2]] * 7))
    assert not re.search(r'="\d+\.\d{3,}"', markup)
