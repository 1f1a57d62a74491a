"""The rules for a course template's fields, shared by the folder importer and the editor."""

from __future__ import annotations

import re
from typing import Any

from courses.models import LATE_JOIN_POLICIES
from server.floor.errors import Invalid
from server.floor.untrusted import check_http_url

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
SEND_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
QUESTION_KINDS = ("text", "choice", "yesno")
BUILTIN_GROUP_KEYS = ("timezone", "language")
MIN_GROUP_SIZE, MAX_GROUP_SIZE = 2, 500
# Ten years of units: more is a typo, and a huge number would overflow the database column.
MAX_DAY = 3650
MAX_LINEAGE = 100


def check_slug(value: Any, field: str = "slug") -> str:
    """A course or unit slug: lower-case letters, digits and dashes."""
    if not isinstance(value, str) or not SLUG.match(value):
        raise Invalid(f"{field} {value!r} must be lower-case letters, digits and dashes (at most 63)")
    return value


def check_text(value: Any, field: str, required: bool = True, limit: int = 300) -> str:
    """A plain string field, non-empty when `required`."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string")
    if required and not value.strip():
        raise Invalid(f"{field} must not be empty")
    if len(value) > limit:
        raise Invalid(f"{field} is longer than {limit} characters")
    return value


def check_language(value: Any) -> str:
    """A BCP 47 language tag such as `en` or `pt-BR`."""
    if not isinstance(value, str) or not LANGUAGE.match(value):
        raise Invalid(f"language {value!r} must be a language tag such as en or pt-BR")
    return value


def check_tags(value: Any) -> list[str]:
    """A list of short strings."""
    if not isinstance(value, list) or not all(isinstance(tag, str) and tag.strip() for tag in value):
        raise Invalid("tags must be a list of words")
    return list(value)


def check_resources(value: Any) -> list[dict[str, Any]]:
    """Resources: tables with at least a `title` and an http(s) `url`."""
    if not isinstance(value, list):
        raise Invalid("resources must be a list of tables with title and url")
    for number, resource in enumerate(value, 1):
        if not isinstance(resource, dict) or not isinstance(resource.get("title"), str):
            raise Invalid(f"resource {number} needs a title")
        check_http_url(resource.get("url"), f"resource {number} ({resource['title']}) url")
    return [dict(resource) for resource in value]


def check_send_time(value: Any) -> str:
    """The learners' local time of day units are sent, HH:MM."""
    if not isinstance(value, str) or not SEND_TIME.match(value):
        raise Invalid(f"schedule.send_time {value!r} must be HH:MM (24-hour)")
    return value


def check_late_join(value: Any) -> str:
    """One of the late-join policies."""
    if value not in LATE_JOIN_POLICIES:
        raise Invalid(f"schedule.late_join {value!r} must be one of {', '.join(LATE_JOIN_POLICIES)}")
    return str(value)


def check_group_size(value: Any) -> int:
    """The target size of a study group."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_GROUP_SIZE <= value <= MAX_GROUP_SIZE:
        raise Invalid(f"groups.size {value!r} must be a whole number from {MIN_GROUP_SIZE} to {MAX_GROUP_SIZE}")
    return value


def check_questions(value: Any) -> list[dict[str, Any]]:
    """Extra signup questions: tables with id, label, kind (text|choice|yesno), choices, required."""
    if not isinstance(value, list):
        raise Invalid("questions must be a list of tables")
    seen: set[str] = set()
    for number, question in enumerate(value, 1):
        if not isinstance(question, dict):
            raise Invalid(f"question {number} must be a table")
        ident = question.get("id")
        if not isinstance(ident, str) or not SLUG.match(ident.replace("_", "-")):
            raise Invalid(f"question {number} needs an id of letters, digits, '-' or '_'")
        if ident in seen:
            raise Invalid(f"question id {ident!r} is used twice")
        seen.add(ident)
        unknown = set(question) - {"id", "label", "kind", "choices", "required"}
        if unknown:
            raise Invalid(f"question {ident}: unknown key {sorted(unknown)[0]!r}")
        check_text(question.get("label"), f"question {ident} label")
        kind = question.get("kind", "text")
        if kind not in QUESTION_KINDS:
            raise Invalid(f"question {ident} kind {kind!r} must be one of {', '.join(QUESTION_KINDS)}")
        choices = question.get("choices")
        if kind == "choice" and (
            not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices)
        ):
            raise Invalid(f"question {ident} of kind choice needs a list of choices")
        if not isinstance(question.get("required", False), bool):
            raise Invalid(f"question {ident} required must be true or false")
    return [dict(question) for question in value]


def check_group_by(value: Any, questions: list[dict[str, Any]]) -> list[str]:
    """Grouping keys: timezone, language, or the id of a choice/yesno question."""
    allowed = set(BUILTIN_GROUP_KEYS) | {q["id"] for q in questions if q.get("kind") in {"choice", "yesno"}}
    if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
        raise Invalid('groups.by must be a list such as ["timezone", "language"]')
    for key in value:
        if key not in allowed:
            raise Invalid(f"groups.by {key!r} must be one of {', '.join(sorted(allowed))}")
    if len(set(value)) != len(value):
        raise Invalid("groups.by names a key twice")
    return list(value)


def check_day(value: Any, field: str = "day") -> int:
    """A unit's day offset from the run's start (0 to MAX_DAY)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAY:
        shown = value if not isinstance(value, int) or abs(value) < 10**12 else f"{str(value)[:12]}..."
        raise Invalid(f"{field} {shown!r} must be a whole number of days from the start, 0 to {MAX_DAY}")
    return value


def check_origin(value: Any, field: str = "origin") -> str | None:
    """Where a course or unit was copied from: None, or an http(s) URL (it becomes a link)."""
    return None if value is None else check_http_url(value, field)


def check_lineage(value: Any, field: str = "lineage") -> list[str]:
    """The ids a fork descends from, nearest first: a list of http(s) URLs."""
    if not isinstance(value, list) or len(value) > MAX_LINEAGE:
        raise Invalid(f"{field} must be a list of at most {MAX_LINEAGE} course URLs")
    return [check_http_url(item, f"{field}[{index}]") for index, item in enumerate(value)]


def answer_problems(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers kept for `questions` (unknown ids dropped); Invalid naming a missing or bad answer."""
    kept: dict[str, Any] = {}
    for question in questions:
        ident = question["id"]
        answer = answers.get(ident)
        if answer in (None, ""):
            if question.get("required"):
                raise Invalid(f"answer to {question['label']!r} ({ident}) is required")
            continue
        kind = question.get("kind", "text")
        if kind == "choice" and answer not in question["choices"]:
            raise Invalid(f"answer to {ident} must be one of {', '.join(question['choices'])}")
        if kind == "yesno":
            if isinstance(answer, str) and answer.lower() in {"yes", "no", "true", "false", "on", "off"}:
                answer = answer.lower() in {"yes", "true", "on"}
            if not isinstance(answer, bool):
                raise Invalid(f"answer to {ident} must be yes or no")
        if kind == "text":
            answer = check_text(str(answer), f"answer to {ident}", required=False, limit=2000)
        kept[ident] = answer
    return kept
