"""The grouping rule, property-tested: membership, sizes, time-zone spread, determinism."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from courses.grouping import (
    GroupShape,
    Learner,
    best_group,
    form_groups,
    remnant_merges,
    size_bounds,
)

OFFSETS = [-600, -480, -300, -180, 0, 60, 120, 330, 540, 600, 780]
learner_lists = st.lists(
    st.tuples(st.sampled_from(OFFSETS), st.sampled_from(["en", "es", "fr"])), min_size=0, max_size=400
).map(lambda pairs: [Learner(offset=o, keys=(lang,), id=i) for i, (o, lang) in enumerate(pairs)])


@settings(max_examples=200, deadline=None)
@given(learners=learner_lists, size=st.integers(min_value=2, max_value=40))
def test_every_learner_is_in_exactly_one_group(learners: list[Learner], size: int) -> None:
    groups = form_groups(learners, size)
    placed = [m.id for group in groups for m in group]
    assert sorted(placed) == sorted(learner.id for learner in learners)
    assert all(groups)


@settings(max_examples=200, deadline=None)
@given(learners=learner_lists, size=st.integers(min_value=2, max_value=40))
def test_sizes_stay_within_half_and_one_and_a_half_times_the_target(learners: list[Learner], size: int) -> None:
    low, high = size_bounds(size)
    groups = form_groups(learners, size)
    if len(learners) * 2 >= size:
        assert all(low <= len(group) <= high for group in groups), [len(g) for g in groups]


@settings(max_examples=200, deadline=None)
@given(learners=learner_lists, size=st.integers(min_value=2, max_value=40))
def test_time_zone_ranges_of_groups_never_interleave(learners: list[Learner], size: int) -> None:
    groups = form_groups(learners, size)
    ranges = sorted((min(m.offset for m in g), max(m.offset for m in g)) for g in groups)
    # Sorted by offset, each group starts where the previous ends or later: no wider span than needed.
    assert all(before[1] <= after[0] for before, after in zip(ranges, ranges[1:], strict=False))


@settings(max_examples=100, deadline=None)
@given(learners=learner_lists, size=st.integers(min_value=2, max_value=40), seed=st.integers())
def test_grouping_is_deterministic_whatever_the_input_order(learners: list[Learner], size: int, seed: int) -> None:
    shuffled = list(learners)
    random.Random(seed).shuffle(shuffled)
    ids = lambda groups: [[m.id for m in g] for g in groups]  # noqa: E731
    assert ids(form_groups(shuffled, size)) == ids(form_groups(learners, size))


def test_cuts_fall_between_time_zones_when_sizes_allow() -> None:
    learners = [Learner(-300, ("en",), i) for i in range(18)] + [Learner(60, ("en",), 100 + i) for i in range(22)]
    groups = form_groups(learners, 20)
    assert [{m.offset for m in g} for g in groups] == [{-300}, {60}]


def test_language_is_the_second_key_inside_one_time_zone() -> None:
    learners = [Learner(0, ("es" if i % 2 else "en",), i) for i in range(40)]
    groups = form_groups(learners, 20)
    assert [{m.keys[0] for m in g} for g in groups] == [{"en"}, {"es"}]


def test_a_late_joiner_fills_the_nearest_group_with_room_or_opens_one() -> None:
    europe = GroupShape(1, tuple(Learner(60, ("en",), i) for i in range(20)))
    americas = GroupShape(2, tuple(Learner(-300, ("en",), 100 + i) for i in range(20)))
    assert best_group(Learner(120, ("en",), 999), [europe, americas], 20) == 1
    assert best_group(Learner(-360, ("en",), 999), [europe, americas], 20) == 2
    full = GroupShape(1, tuple(Learner(60, ("en",), i) for i in range(30)))
    assert best_group(Learner(60, ("en",), 999), [full], 20) is None
    assert best_group(Learner(600, ("en",), 999), [europe], 20) is None


def test_small_remnants_merge_into_the_nearest_group_with_room() -> None:
    big = GroupShape(1, tuple(Learner(60, ("en",), i) for i in range(20)))
    near = GroupShape(2, tuple(Learner(0, ("en",), 100 + i) for i in range(12)))
    remnant = GroupShape(3, tuple(Learner(30, ("en",), 200 + i) for i in range(4)))
    assert remnant_merges([big, near, remnant], 20) == [(3, 2)]


shapes = st.lists(st.lists(st.sampled_from(OFFSETS), min_size=1, max_size=35), min_size=1, max_size=12).map(
    lambda groups: [
        GroupShape(gid, tuple(Learner(o, ("en",), gid * 100 + i) for i, o in enumerate(offsets)))
        for gid, offsets in enumerate(groups, 1)
    ]
)


@settings(max_examples=150, deadline=None)
@given(groups=shapes, size=st.integers(min_value=4, max_value=30), offset=st.sampled_from(OFFSETS))
def test_a_late_joiner_only_ever_joins_a_group_with_room(groups: list[GroupShape], size: int, offset: int) -> None:
    chosen = best_group(Learner(offset, ("en",), 99_999), groups, size)
    _, high = size_bounds(size)
    if chosen is not None:
        assert len(next(g for g in groups if g.id == chosen).members) < high
    else:
        assert all(len(g.members) >= high for g in groups) or all(
            abs(g.centre - offset) > 240 for g in groups if len(g.members) < high
        )


@settings(max_examples=150, deadline=None)
@given(groups=shapes, size=st.integers(min_value=4, max_value=30))
def test_remnant_merges_only_move_small_groups_into_groups_with_room(groups: list[GroupShape], size: int) -> None:
    low, high = size_bounds(size)
    sizes = {g.id: len(g.members) for g in groups}
    sources = set()
    for source, target in remnant_merges(groups, size):
        assert sizes[source] < low and source not in sources and target not in sources
        sizes[target] += sizes.pop(source)
        assert sizes[target] <= high
        sources.add(source)
