"""Reading a course back from its ActivityStreams document (a peer's course actor or version
Article) into a course snapshot in the shape of `courses.versions.snapshot_of`: the inverse of
`federation.protocol.vocabulary.course_fields`, used by forks. Every field a peer sends is checked
for its type; a bad one is an `Invalid` naming it (`units[1].day`).
"""

from __future__ import annotations

import html
import re
from typing import Any

from server.floor.errors import Invalid


def _text(value: Any, field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"course document field {field} must be text")
    return value


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"course document field {field} must be a whole number, not {value!r}")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise Invalid(f"course document field {field} must be a list")
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(f"course document field {field} must be an object")
    return value


def _html_to_text(value: str) -> str:
    """Markup from another server reduced to text (we escaped it; others may not have)."""
    return html.unescape(re.sub(r"<[^>]*>", "", value))


def _unit_from(obj: Any, index: int) -> dict[str, Any]:
    where = f"units[{index}]"
    if not isinstance(obj, dict):
        raise Invalid(f"course document field {where} must be an object")
    source = obj.get("source") or {}
    body = source.get("content") if isinstance(source, dict) else None
    if body is None:
        raise Invalid(f"course document field {where}.source.content (the Markdown body) is missing")
    slug = _text(obj.get("slug"), f"{where}.slug") or str(obj.get("id", "")).rstrip("/").rsplit("/", 1)[-1]
    if not slug:
        raise Invalid(f"course document field {where}.slug is missing")
    return {
        "slug": slug,
        "title": _text(obj.get("name"), f"{where}.name"),
        "day": _int(obj.get("day"), f"{where}.day"),
        "body": _text(body, f"{where}.source.content"),
        "position": _int(obj.get("position", index), f"{where}.position"),
        "origin": _text(obj.get("origin"), f"{where}.origin") or None,
        "extra": _object(obj.get("extra"), f"{where}.extra"),
    }


def _tags(document: dict[str, Any]) -> list[str]:
    tags = document.get("tag")
    if isinstance(tags, dict):
        tags = [tags]
    return [
        t["name"][1:] if t["name"].startswith("#") else t["name"]
        for t in _list(tags, "tag")
        if isinstance(t, dict) and t.get("type") == "Hashtag" and isinstance(t.get("name"), str)
    ]


def _resource_from(link: Any) -> dict[str, Any]:
    if not isinstance(link, dict):
        raise Invalid("course document field resources must hold Link objects")
    resource = {"title": _text(link.get("name"), "resources.name"), "url": _text(link.get("href"), "resources.href")}
    return {**resource, **_object(link.get("extra"), "resources.extra")}


def is_course(document: dict[str, Any]) -> bool:
    """True when `document` is one of our course actors or version Articles (it has units)."""
    return isinstance(document.get("units"), list) and isinstance(document.get("slug"), str)


def snapshot_from_course(document: dict[str, Any]) -> dict[str, Any]:
    """A course actor or version Article back to a course snapshot; Invalid naming the bad field."""
    if not is_course(document):
        raise Invalid(f"{document.get('id', 'the document')} is not a course of a Mechanical MOOC instance (no units)")
    origin = document.get("origin")
    if isinstance(origin, dict):
        origin = origin.get("id")
    # Every field a peer sends is checked for its type: a list where a string belongs, or a number
    # where a list belongs, is an Invalid naming the field, not a TypeError deep in the fork code.
    return {
        "slug": _text(document.get("slug"), "slug"),
        "title": _text(document.get("name"), "name"),
        "summary": _html_to_text(_text(document.get("summary"), "summary")),
        "language": _text(document.get("language"), "language") or "en",
        "license": _text(document.get("license"), "license"),
        "tags": _tags(document),
        "resources": [_resource_from(r) for r in _list(document.get("resources"), "resources")],
        "send_time": _text(document.get("sendTime"), "sendTime") or "09:00",
        "late_join": _text(document.get("lateJoin"), "lateJoin") or "catch_up",
        "group_size": _int(document.get("groupSize", 20), "groupSize"),
        "group_by": [_text(k, "groupBy") for k in _list(document.get("groupBy"), "groupBy")],
        "questions": _list(document.get("questions"), "questions"),
        "extra": _object(document.get("extra"), "extra"),
        "origin": _text(origin, "origin") or None,
        "lineage": [_text(i, "lineage") for i in _list(document.get("lineage"), "lineage")],
        "units": [_unit_from(u, i) for i, u in enumerate(document["units"])],
    }


def version_of(document: dict[str, Any]) -> int | None:
    """The published version a course document describes, if it says."""
    value = document.get("version")
    return value if isinstance(value, int) and not isinstance(value, bool) else None
