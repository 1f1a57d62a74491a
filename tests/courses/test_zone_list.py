"""courses.zone_list (the time zone picker's list) and the offset labels of courses.zones."""

from __future__ import annotations

from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given
from hypothesis import strategies as st

from courses.zone_list import REGIONS, build_regions, is_regional, listed_zone, place_label, zone_names, zone_regions
from courses.zones import offset_label, offset_span

LEGACY = ("US/Pacific", "US/Eastern", "Etc/GMT+5", "Etc/GMT-14", "EST5EDT", "SystemV/AST4", "Canada/Atlantic",
          "Asia/Calcutta", "Europe/Kiev", "GB", "Japan", "Navajo", "posix/Europe/Paris", "Factory", "GMT")  # fmt: skip


def test_the_list_is_current_regional_names_and_utc() -> None:
    names = zone_names()
    assert not set(LEGACY) & names
    assert {"UTC", "Asia/Kolkata", "Europe/Kyiv", "America/Los_Angeles", "America/Argentina/Buenos_Aires"} <= names
    # One zone per country stays choosable, even where the tz database merged it into a neighbour's.
    assert {"Europe/Oslo", "Europe/Amsterdam", "Africa/Accra"} <= names
    assert all(name == "UTC" or (is_regional(name) and not name.startswith(("Etc/", "US/"))) for name in names)
    assert names <= available_timezones() | {"UTC"}
    for name in names:
        ZoneInfo(name)  # every choice loads
    assert len(names) > 300


def test_regions_are_grouped_in_order_utc_first_and_sorted_by_label() -> None:
    regions = zone_regions()
    assert regions[0].name == "UTC" and [z.name for z in regions[0].zones] == ["UTC"]
    assert [r.name for r in regions[1:]] == [name for name in REGIONS if any(r.name == name for r in regions)]
    for region in regions[1:]:
        assert all(zone.name.startswith(region.name + "/") for zone in region.zones)
        labels = [zone.label for zone in region.zones]
        assert labels == sorted(labels)


def test_labels_name_the_place_and_the_country() -> None:
    by_name = {zone.name: zone for region in zone_regions() for zone in region.zones}
    assert by_name["Asia/Kolkata"].label == "Kolkata (India)"
    assert by_name["America/Argentina/Buenos_Aires"].label == "Argentina / Buenos Aires (Argentina)"
    assert place_label("America/North_Dakota/New_Salem") == "North Dakota / New Salem"


def test_older_names_browsers_report_map_to_the_listed_zone() -> None:
    by_name = {zone.name: zone for region in zone_regions() for zone in region.zones}
    assert "Asia/Calcutta" in by_name["Asia/Kolkata"].aliases  # what Chrome reports in India
    assert "Europe/Kiev" in by_name["Europe/Kyiv"].aliases
    assert "US/Pacific" in by_name["America/Los_Angeles"].aliases
    assert {"Etc/UTC", "Etc/GMT", "Zulu"} <= set(by_name["UTC"].aliases)
    every_alias = [alias for zone in by_name.values() for alias in zone.aliases]
    assert len(every_alias) == len(set(every_alias)) and not set(every_alias) & zone_names()
    assert listed_zone("Asia/Calcutta") == "Asia/Kolkata" and listed_zone("Asia/Tokyo") == "Asia/Tokyo"
    assert listed_zone("Etc/GMT+5") is None and listed_zone("Mars/Olympus") is None


def test_built_from_small_tables_and_without_any() -> None:
    known = {"Europe/Berlin", "Europe/Oslo", "Asia/Kolkata", "Asia/Calcutta", "US/Pacific", "Etc/UTC", "UTC"}
    tables = [("Europe/Berlin", "DE,DK"), ("Europe/Oslo", "NO"), ("Asia/Kolkata", "IN"), ("America/Nowhere", "XX")]
    links = [("Asia/Kolkata", "Asia/Calcutta"), ("Etc/UTC", "UTC"), ("America/Los_Angeles", "US/Pacific")]
    regions = build_regions(known, tables, links, {"DE": "Germany", "IN": "India"})
    shown = {zone.name: zone for region in regions for zone in region.zones}
    assert set(shown) == {"UTC", "Europe/Berlin", "Europe/Oslo", "Asia/Kolkata"}  # Nowhere cannot be loaded
    assert shown["Europe/Berlin"].label == "Berlin (Germany)" and shown["Europe/Oslo"].label == "Oslo"
    assert shown["Asia/Kolkata"].aliases == ("Asia/Calcutta",) and "US/Pacific" not in str(regions)
    bare = build_regions(known, [], [], {})  # no zone.tab installed: every regional name known
    assert {zone.name for region in bare for zone in region.zones} == {"UTC", "Europe/Berlin", "Europe/Oslo",
                                                                      "Asia/Kolkata", "Asia/Calcutta"}  # fmt: skip


def test_offset_labels_use_a_true_minus_and_minutes_when_needed() -> None:
    assert [offset_label(m) for m in (0, 60, -300, 330, -570, 345)] == [
        "UTC", "UTC+1", "UTC\u22125", "UTC+5:30", "UTC\u22129:30", "UTC+5:45",
    ]  # fmt: skip
    assert offset_span([-300, -180, -240, -300]) == "UTC\u22125 to UTC\u22123"
    assert offset_span([60, 60]) == "UTC+1" and offset_span([]) == ""


@given(st.lists(st.integers(min_value=-12 * 60, max_value=14 * 60), min_size=1, max_size=30))
def test_a_span_runs_from_the_lowest_to_the_highest_offset(offsets: list[int]) -> None:
    span = offset_span(offsets)
    assert span.startswith(offset_label(min(offsets)))
    assert span.endswith(offset_label(max(offsets)))
    assert (" to " in span) == (offset_label(min(offsets)) != offset_label(max(offsets)))
