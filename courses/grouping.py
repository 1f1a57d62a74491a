"""The grouping rule: learners → study groups, by time zone first (UTC offset), then language.

Pure and deterministic: the same learners always give the same groups, whatever their input order.
Groups are contiguous runs of the learners sorted by (offset, other keys, id), so two groups' offset
ranges never interleave, and cuts are moved to where the offset (or language) changes whenever the
sizes allow it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

# A late joiner opens a new group rather than join one whose members are further away than this.
MAX_LATE_DISTANCE = 4 * 60


class Learner(NamedTuple):
    """What grouping needs to know of a learner: UTC offset in minutes and the other keys' values
    (a tuple, ordered by offset, keys, id: 100,000 of them are made to form a run's groups)."""

    offset: int
    keys: tuple[str, ...]
    id: int


@dataclass(frozen=True)
class GroupShape:
    """An existing group as grouping sees it: its id and its members."""

    id: int
    members: tuple[Learner, ...]

    @property
    def centre(self) -> float:
        """The mean UTC offset of the members."""
        return sum(m.offset for m in self.members) / len(self.members) if self.members else 0.0


@lru_cache(maxsize=1024)
def utc_offset(zone: str, instant: datetime) -> int:
    """The UTC offset of `zone` at `instant`, in minutes (unknown zones count as UTC)."""
    try:
        offset = instant.astimezone(ZoneInfo(zone)).utcoffset()
    except (KeyError, ValueError):
        return 0
    return int(offset.total_seconds() // 60) if offset is not None else 0


def size_bounds(size: int) -> tuple[int, int]:
    """The smallest and largest group allowed around a target `size`: [size/2, size*3/2]."""
    return max(1, math.ceil(size / 2)), max(1, math.floor(size * 3 / 2))


def group_count(learners: int, size: int) -> int:
    """How many groups `learners` people make at target `size` (nearest whole number, at least 1)."""
    return max(1, math.floor(learners / size + 0.5)) if learners else 0


def _boundary_score(ordered: Sequence[Learner], cut: int) -> int:
    """2 where the offset changes at `cut`, 1 where only another key changes, 0 inside a block."""
    before, after = ordered[cut - 1], ordered[cut]
    if before.offset != after.offset:
        return 2
    return 1 if before.keys != after.keys else 0


def form_groups(learners: Sequence[Learner], size: int) -> list[list[Learner]]:
    """Split `learners` into groups near `size`, each a contiguous run of the (offset, keys) order."""
    # A key tuple, not the dataclass order: sorting 100,000 learners must stay cheap.
    ordered = sorted(learners, key=lambda learner: (learner.offset, learner.keys, learner.id))
    total = len(ordered)
    count = group_count(total, size)
    if count <= 1:
        return [ordered] if ordered else []
    low, high = size_bounds(size)
    # Cuts may move this far from an even split to land on a time-zone or language boundary.
    slack = max(0, size // 4)
    groups: list[list[Learner]] = []
    start = 0
    for left in range(count, 1, -1):
        remaining = total - start
        ideal = start + round(remaining / left)
        # The cut must leave a size in [low, high] here and room for `left - 1` groups after it.
        feasible = (max(start + low, total - (left - 1) * high), min(start + high, total - (left - 1) * low))
        earliest, latest = max(feasible[0], ideal - slack), min(feasible[1], ideal + slack)
        if earliest > latest:
            earliest, latest = feasible
        cut = max(range(earliest, latest + 1), key=lambda c: (_boundary_score(ordered, c), -abs(c - ideal), -c))
        groups.append(ordered[start:cut])
        start = cut
    groups.append(ordered[start:])
    return groups


def label(members: Sequence[Learner], zones: dict[int, str], key_index: int | None) -> tuple[str, str]:
    """A group's time zone (its members' most common) and its most common value of the first other key."""
    zone = Counter(zones.get(m.id, "UTC") for m in members).most_common(1)
    value = Counter(m.keys[key_index] for m in members).most_common(1) if key_index is not None and members else []
    return (zone[0][0] if zone else "UTC", value[0][0] if value else "")


def best_group(learner: Learner, groups: Sequence[GroupShape], size: int) -> int | None:
    """The group a late joiner fills: nearest offset, same keys, fewest members, among those with room.

    None means: open a new group (every group is full, or none is within MAX_LATE_DISTANCE).
    """
    _, high = size_bounds(size)
    candidates = [g for g in groups if len(g.members) < high]
    if not candidates:
        return None

    def fit(group: GroupShape) -> tuple[float, int, int, int]:
        mismatched = sum(1 for m in group.members if m.keys != learner.keys)
        share = mismatched * 2 > len(group.members)
        return (abs(group.centre - learner.offset), int(share), len(group.members), group.id)

    chosen = min(candidates, key=fit)
    if abs(chosen.centre - learner.offset) > MAX_LATE_DISTANCE and len(chosen.members) >= size:
        return None
    return chosen.id


def remnant_merges(groups: Sequence[GroupShape], size: int) -> list[tuple[int, int]]:
    """(from, into) pairs that merge each group below size/2 into its nearest group with room."""
    low, high = size_bounds(size)
    sizes = {g.id: len(g.members) for g in groups}
    centres = {g.id: g.centre for g in groups}
    merges: list[tuple[int, int]] = []
    merged: set[int] = set()
    for group in sorted(groups, key=lambda g: (len(g.members), g.id)):
        if sizes[group.id] >= low or group.id in merged:
            continue
        targets = [
            other
            for other in groups
            if other.id != group.id and other.id not in merged and sizes[other.id] + sizes[group.id] <= high
        ]
        if not targets:
            continue
        into = min(targets, key=lambda o: (abs(centres[o.id] - centres[group.id]), sizes[o.id], o.id))
        merges.append((group.id, into.id))
        merged.add(group.id)
        sizes[into.id] += sizes[group.id]
    return merges
