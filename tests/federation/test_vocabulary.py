"""Courses on the wire: course -> ActivityStreams -> snapshot is lossless; Mastodon sees an Article."""

from __future__ import annotations

import json
import string
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federation.protocol import vocabulary
from federation.protocol.vocabulary import CourseIds, RunFacts
from server.floor.errors import Invalid

BASE = "https://a.example"
IDS = CourseIds(course=f"{BASE}/courses/c", url=f"{BASE}/courses/c", forks=f"{BASE}/courses/c/forks", version=3)

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
slugs = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=20).filter(lambda s: s[0] != "-")
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(slugs, inner, max_size=3),
    max_leaves=6,
)
urls = slugs.map(lambda s: f"https://b.example/courses/{s}")
GENTLE = Path(__file__).parents[1] / "fixtures" / "courses" / "gentle-python"


def gentle_python() -> dict[str, Any]:
    """The gentle-python fixture folder as a course snapshot (read directly, no database)."""
    table = tomllib.loads((GENTLE / "course.toml").read_text())
    units = []
    for position, path in enumerate(sorted((GENTLE / "units").glob("*.md"))):
        _, front, body = path.read_text().split("+++\n", 2)
        meta = tomllib.loads(front)
        slug = path.stem.split("-", 1)[1]
        units.append(
            {
                "slug": slug,
                "title": meta["title"],
                "day": meta["day"],
                "body": body,
                "position": position,
                "origin": None,
                "extra": {},
            }
        )
    return {
        "slug": table["slug"],
        "title": table["title"],
        "summary": table["summary"],
        "language": table["language"],
        "license": table["license"],
        "tags": table["tags"],
        "resources": table["resources"],
        "send_time": table["schedule"]["send_time"],
        "late_join": table["schedule"]["late_join"],
        "group_size": table["groups"]["size"],
        "group_by": table["groups"]["by"],
        "questions": [],
        "extra": {},
        "origin": None,
        "lineage": [],
        "units": units,
    }


@pytest.fixture
def gentle_snapshot() -> dict[str, Any]:
    """gentle-python as plain data."""
    return gentle_python()


@st.composite
def snapshots(draw: st.DrawFn) -> dict[str, Any]:
    """Course snapshots in the shape of courses.versions.snapshot_of."""
    unit_slugs = draw(st.lists(slugs, min_size=1, max_size=5, unique=True))
    units = [
        {
            "slug": slug,
            "title": draw(text),
            "day": draw(st.integers(0, 400)),
            "body": draw(text),
            "position": position,
            "origin": draw(st.none() | urls),
            "extra": draw(st.dictionaries(slugs, json_values, max_size=2)),
        }
        for position, slug in enumerate(unit_slugs)
    ]
    return {
        "slug": draw(slugs),
        "title": draw(text),
        "summary": draw(text),
        "language": draw(st.sampled_from(["en", "de", "pt-BR"])),
        "license": draw(st.sampled_from(["CC-BY-SA-4.0", "CC0-1.0", "MIT"])),
        "tags": draw(st.lists(slugs, max_size=4)),
        "resources": draw(
            st.lists(st.fixed_dictionaries({"title": text, "url": urls}, optional={"kind": text}), max_size=3)
        ),
        "send_time": draw(st.sampled_from(["09:00", "18:30"])),
        "late_join": draw(st.sampled_from(["catch_up", "all_at_once", "skip"])),
        "group_size": draw(st.integers(2, 500)),
        "group_by": draw(st.lists(st.sampled_from(["timezone", "language"]), unique=True)),
        "questions": draw(st.lists(st.dictionaries(slugs, json_values, max_size=3), max_size=2)),
        "extra": draw(st.dictionaries(slugs, json_values, max_size=3)),
        "origin": draw(st.none() | urls),
        "lineage": draw(st.lists(urls, max_size=3)),
        "units": units,
    }


@settings(max_examples=150, deadline=None)
@given(snapshots())
def test_course_round_trips_through_the_actor_document(snapshot: dict[str, Any]) -> None:
    document = json.loads(json.dumps(vocabulary.course_fields(snapshot, IDS)))
    assert vocabulary.snapshot_from_course(document) == snapshot
    assert vocabulary.version_of(document) == 3


@settings(max_examples=80, deadline=None)
@given(snapshots())
def test_course_round_trips_through_the_version_article(snapshot: dict[str, Any]) -> None:
    article = json.loads(json.dumps(vocabulary.version_article(snapshot, IDS, "2026-11-25T00:00:00Z")))
    assert article["type"] == "Article"
    assert vocabulary.snapshot_from_course(article) == snapshot


def test_mastodon_sees_name_teaser_and_url(gentle_snapshot: dict[str, Any]) -> None:
    article = vocabulary.version_article(gentle_snapshot, IDS, "2026-11-25T00:00:00Z")
    # Mastodon converts an Article to "name, summary, url" and ignores content it does not know.
    assert article["name"] == "A Gentle Introduction to Python"
    assert article["summary"].startswith("Seven weeks of Python")
    assert article["url"] == IDS.url
    assert "<" not in article["summary"]
    units = article["units"]
    assert [u["day"] for u in units] == sorted(u["day"] for u in units)
    assert units[1]["id"] == f"{IDS.course}/units/{gentle_snapshot['units'][1]['slug']}"
    assert units[1]["source"]["mediaType"] == "text/markdown"
    actor = vocabulary.course_fields(gentle_snapshot, IDS)
    assert actor["type"] == "Service"  # a type Mastodon can follow
    assert {"name": "License", "type": "PropertyValue", "value": "CC-BY-SA-4.0"} in actor["attachment"]


def test_summary_markup_from_elsewhere_is_reduced_to_text(gentle_snapshot: dict[str, Any]) -> None:
    document = vocabulary.course_fields(gentle_snapshot, IDS)
    document["summary"] = "<p>Learn <b>Python</b> &amp; friends<script>x</script></p>"
    assert vocabulary.snapshot_from_course(document)["summary"] == "Learn Python & friendsx"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("units"), "no units"),
        (lambda d: d["units"][0].pop("source"), "units[0].source.content"),
        (lambda d: d["units"][1].update(day="seven"), "units[1].day"),
        (lambda d: d.update(groupSize=True), "groupSize"),
        (lambda d: d.update(name=["x"]), "name"),
    ],
)
def test_malformed_course_documents_name_the_field(gentle_snapshot: dict[str, Any], change: Any, field: str) -> None:
    document = json.loads(json.dumps(vocabulary.course_fields(gentle_snapshot, IDS)))
    change(document)
    with pytest.raises(Invalid, match=field.replace("[", r"\[").replace("]", r"\]")):
        vocabulary.snapshot_from_course(document)


def test_context_document_binds_our_terms_and_forgefed() -> None:
    document = vocabulary.context_document(BASE)
    assert document["@context"]["mm"] == f"{BASE}/ns#"
    assert document["@context"]["forks"]["@id"] == "forge:forks"
    assert vocabulary.context(BASE)[0] == vocabulary.AS


def test_run_is_a_group_and_its_announcement_reads_well() -> None:
    facts = RunFacts(
        run=f"{BASE}/runs/gp-1",
        url=f"{BASE}/runs/gp-1",
        course=IDS.course,
        course_title="Gentle <Python>",
        course_url=IDS.url,
        start_date="2026-12-01",
        timezone="Europe/Berlin",
        last_day=42,
        units=7,
    )
    group = vocabulary.run_fields(facts)
    # No attributedTo: FEP-1b12 and Lemmy (AttributedTo::url) read a Group's as its moderators collection.
    assert group["type"] == "Group" and group["course"] == IDS.course and "attributedTo" not in group
    note = vocabulary.run_announcement(facts, f"{BASE}/posts/1", "2026-11-25T00:00:00Z", f"{IDS.course}/followers")
    assert note["type"] == "Note" and vocabulary.PUBLIC in note["to"]
    assert "Gentle &lt;Python&gt;" in note["content"] and "2026-12-01" in note["content"]
    assert f'href="{facts.url}"' in note["content"] and "6 weeks" in note["content"]
