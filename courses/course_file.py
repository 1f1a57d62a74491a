"""The portable folder format as plain data: parse `course.toml` + `units/*.md` texts, and write them back.

Pure functions over {relative path: text}; reading folders and zips is `courses.folder`'s job.
Every error names the file and line (`units/01-variables.md:3: ...`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

import tomli_w
import tomlkit
from tomlkit.items import Table

from courses import fields
from courses.licenses import check_license
from courses.merge_tags import body_problem
from server.floor.errors import Invalid
from server.floor.untrusted import MAX_DEPTH, depth

COURSE_FILE = "course.toml"
UNITS_DIR = "units/"
FENCE = "+++"
COURSE_KEYS = {"slug", "title", "summary", "language", "license", "tags", "resources", "schedule", "groups"}
COURSE_KEYS |= {"questions", "provenance", "extra"}
TABLE_KEYS = {"schedule": {"send_time", "late_join"}, "groups": {"size", "by"}}
TABLE_KEYS["provenance"] = {"origin", "version", "lineage"}
UNIT_KEYS = {"title", "day", "origin", "extra"}
_POSITION_PREFIX = re.compile(r"^\d+[-_]")
_TOML_LINE = re.compile(r"at line (\d+)")


@dataclass
class UnitDocument:
    """One unit file: its slug (from the file name), front matter fields and Markdown body."""

    slug: str
    title: str
    day: int
    body: str
    origin: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source_toml: str | None = None


@dataclass
class CourseDocument:
    """A whole course folder as data, in unit order."""

    slug: str
    title: str
    summary: str = ""
    language: str = "en"
    license: str = "CC-BY-SA-4.0"
    tags: list[str] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    send_time: str = "09:00"
    late_join: str = "catch_up"
    group_size: int = 20
    group_by: list[str] = field(default_factory=lambda: ["timezone", "language"])
    questions: list[dict[str, Any]] = field(default_factory=list)
    origin: str | None = None
    origin_version: int | None = None
    lineage: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    source_toml: str | None = None
    units: list[UnitDocument] = field(default_factory=list)
    # What the import changed and says so (units whose file names differ only by their number).
    notices: list[str] = field(default_factory=list)


def _line_of(text: str, key: str, table: str | None = None) -> int:
    """The line where `key` is set (inside `[table]` if given), or of the table header; 1 if not found."""
    lines = text.splitlines()
    start = 0
    if table:
        header = re.compile(rf"^\s*\[\[?\s*{re.escape(table)}\s*\]\]?")
        start = next((i for i, line in enumerate(lines) if header.match(line)), 0)
    pattern = re.compile(rf"^\s*\[?\[?\s*\"?{re.escape(key)}\"?\s*(=|\]\]?)")
    for index in range(start, len(lines)):
        if pattern.match(lines[index]):
            return index + 1
    return start + 1


def _load_toml(text: str, where: str, first_line: int = 1) -> dict[str, Any]:
    """Parsed TOML, or Invalid naming `where` and the line of the syntax error (or of too deep nesting)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = _TOML_LINE.search(str(error))
        line = int(found.group(1)) + first_line - 1 if found else first_line
        reason = _TOML_LINE.sub("", str(error)).replace("(, column", "(column").strip()
        raise Invalid(f"{where}:{line}: invalid TOML: {reason}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise Invalid(f"{where}:{first_line}: invalid TOML: nested more than {MAX_DEPTH} levels deep") from None
    # Dotted keys nest without recursion; what is stored must stay shallow for the code that walks it.
    if depth(data) > MAX_DEPTH:
        raise Invalid(f"{where}:{first_line}: invalid TOML: nested more than {MAX_DEPTH} levels deep")
    # TOML dates and times have no JSON form: in extra, questions or resources they broke the import
    # (a TypeError when the JSON column was written). The format uses none: quoted text is the way.
    key = _date_key(data)
    if key is not None:
        line = _line_of(text, key.rsplit(".", 1)[-1]) + first_line - 1
        raise Invalid(f"{where}:{line}: {key} is a TOML date or time; write it as text in quotes")
    return data


def _date_key(value: Any, path: str = "") -> str | None:
    """The dotted key of the first date, time or datetime inside parsed TOML, if any (depth is bounded)."""
    if isinstance(value, date | time):  # datetime is a date
        return path or "value"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        found = _date_key(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _checked(where: str, line: int, check: Any, *args: Any) -> Any:
    """Run a field rule, prefixing its error with file and line."""
    try:
        return check(*args)
    except Invalid as error:
        raise Invalid(f"{where}:{line}: {error}") from None


def parse_course(files: dict[str, str]) -> CourseDocument:
    """A CourseDocument from the texts of a course folder; Invalid naming file and line on any fault."""
    if COURSE_FILE not in files:
        raise Invalid(f"{COURSE_FILE}: missing (a course folder holds course.toml and units/*.md)")
    text = files[COURSE_FILE]
    data = _load_toml(text, COURSE_FILE)
    where = COURSE_FILE
    for key in data:
        if key not in COURSE_KEYS:
            raise Invalid(
                f"{where}:{_line_of(text, key)}: unknown key {key!r} (known: {', '.join(sorted(COURSE_KEYS))})"
            )
    for table, known in TABLE_KEYS.items():
        value = data.get(table, {})
        if not isinstance(value, dict):
            raise Invalid(f"{where}:{_line_of(text, table)}: {table} must be a table")
        for key in value:
            if key not in known:
                raise Invalid(
                    f"{where}:{_line_of(text, key, table)}: unknown key {table}.{key} (known: {', '.join(sorted(known))})"
                )
    if "slug" not in data or "title" not in data:
        raise Invalid(f"{where}:1: slug and title are required")
    line = lambda key, table=None: _line_of(text, key, table)  # noqa: E731
    schedule, groups, provenance = data.get("schedule", {}), data.get("groups", {}), data.get("provenance", {})
    questions = _checked(where, line("questions"), fields.check_questions, data.get("questions", []))
    extra = data.get("extra", {})
    if not isinstance(extra, dict):
        raise Invalid(f"{where}:{line('extra')}: extra must be a table")
    course = CourseDocument(
        slug=_checked(where, line("slug"), fields.check_slug, data["slug"]),
        title=_checked(where, line("title"), fields.check_text, data["title"], "title"),
        summary=_checked(where, line("summary"), fields.check_text, data.get("summary", ""), "summary", False, 5000),
        language=_checked(where, line("language"), fields.check_language, data.get("language", "en")),
        license=_checked(where, line("license"), check_license, data.get("license", "CC-BY-SA-4.0")),
        tags=_checked(where, line("tags"), fields.check_tags, data.get("tags", [])),
        resources=_checked(where, line("resources"), fields.check_resources, data.get("resources", [])),
        send_time=_checked(
            where, line("send_time", "schedule"), fields.check_send_time, schedule.get("send_time", "09:00")
        ),
        late_join=_checked(
            where, line("late_join", "schedule"), fields.check_late_join, schedule.get("late_join", "catch_up")
        ),
        group_size=_checked(where, line("size", "groups"), fields.check_group_size, groups.get("size", 20)),
        group_by=_checked(
            where, line("by", "groups"), fields.check_group_by, groups.get("by", ["timezone", "language"]), questions
        ),
        questions=questions,
        # Provenance becomes links on the course page: http(s) URLs only (no javascript:).
        origin=_checked(
            where, line("origin", "provenance"), fields.check_origin, provenance.get("origin"), "provenance.origin"
        ),
        origin_version=_checked(where, line("version", "provenance"), _check_version, provenance.get("version")),
        lineage=_checked(
            where,
            line("lineage", "provenance"),
            fields.check_lineage,
            provenance.get("lineage", []),
            "provenance.lineage",
        ),
        extra=dict(extra),
        source_toml=text,
    )
    unit_files = sorted(name for name in files if name.startswith(UNITS_DIR))
    units = [(name, parse_unit(name, files[name])) for name in unit_files]
    course.notices = unique_slugs(units)
    course.units = [unit for _, unit in units]
    return course


def unique_slugs(units: list[tuple[str, UnitDocument]]) -> list[str]:
    """Give units whose file names differ only by their number distinct slugs (dia, dia-2, ...), in file
    order; one sentence per unit renamed."""
    taken = {unit.slug for _, unit in units}
    owner: dict[str, str] = {}
    notices = []
    for name, unit in units:
        if unit.slug not in owner:
            owner[unit.slug] = name
            continue
        number, base = 2, unit.slug
        while (candidate := f"{base[: 63 - len(str(number)) - 1]}-{number}") in taken:
            number += 1
        taken.add(candidate)
        owner[candidate] = name
        notices.append(f"{name}: unit slug {base!r} is used by {owner[base]} too, so this unit's slug is {candidate!r}")
        unit.slug = candidate
    return notices


def _check_version(value: Any) -> int | None:
    """The origin's version number a fork was copied from."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31):
        raise Invalid(f"provenance.version {value!r} must be a version number (1 or more)")
    return value


def split_front_matter(name: str, text: str) -> tuple[str, str]:
    """(front matter TOML, Markdown body) of a unit file fenced by `+++` lines."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != FENCE:
        raise Invalid(f"{name}:1: a unit file starts with a +++ line, then TOML front matter, then +++")
    for index in range(1, len(lines)):
        if lines[index].rstrip("\r\n") == FENCE:
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise Invalid(f"{name}:1: the front matter opened on line 1 is never closed by a +++ line")


def parse_unit(name: str, text: str) -> UnitDocument:
    """One unit file as a UnitDocument; Invalid naming the file and line."""
    if not name.endswith(".md"):
        raise Invalid(f"{name}:1: only Markdown files (.md) belong in units/")
    stem = name[len(UNITS_DIR) : -len(".md")]
    slug = _POSITION_PREFIX.sub("", stem)
    _checked(name, 1, fields.check_slug, slug, "unit file name")
    front, body = split_front_matter(name, text)
    data = _load_toml(front, name, first_line=2)
    for key in data:
        if key not in UNIT_KEYS:
            raise Invalid(
                f"{name}:{_line_of(front, key) + 1}: unknown key {key!r} (known: {', '.join(sorted(UNIT_KEYS))})"
            )
    if "day" not in data:
        raise Invalid(f"{name}:1: the front matter has no day (days after the run's start, e.g. day = 7)")
    if "title" not in data:
        raise Invalid(f"{name}:1: the front matter has no title")
    day = _checked(name, _line_of(front, "day") + 1, fields.check_day, data["day"])
    title = _checked(name, _line_of(front, "title") + 1, fields.check_text, data["title"], "title")
    origin = _checked(name, _line_of(front, "origin") + 1, fields.check_origin, data.get("origin"))
    extra = data.get("extra", {})
    if not isinstance(extra, dict):
        raise Invalid(f"{name}:{_line_of(front, 'extra') + 1}: extra must be a table")
    problem = body_problem(body)
    if problem is not None:
        body_start = 3 + len(front.splitlines())
        raise Invalid(f"{name}:{body_start + problem.line - 1}: the body does not render: {problem.message}")
    return UnitDocument(
        slug=slug,
        title=title,
        day=day,
        body=body,
        origin=origin,
        extra=dict(extra),
        source_toml=front,
    )


def course_table(course: CourseDocument) -> dict[str, Any]:
    """The course.toml content of `course`; empty optional values are left out."""
    data: dict[str, Any] = {"slug": course.slug, "title": course.title}
    optional = {"summary": course.summary, "language": course.language, "license": course.license, "tags": course.tags}
    data.update({key: value for key, value in optional.items() if value})
    data["schedule"] = {"send_time": course.send_time, "late_join": course.late_join}
    data["groups"] = {"size": course.group_size, "by": course.group_by}
    if course.resources:
        data["resources"] = course.resources
    if course.questions:
        data["questions"] = course.questions
    if course.origin:
        provenance: dict[str, Any] = {"origin": course.origin, "lineage": course.lineage}
        if course.origin_version is not None:
            provenance["version"] = course.origin_version
        data["provenance"] = provenance
    if course.extra:
        data["extra"] = course.extra
    return data


def unit_table(unit: UnitDocument) -> dict[str, Any]:
    """The front matter content of `unit`."""
    data: dict[str, Any] = {"title": unit.title, "day": unit.day}
    if unit.origin:
        data["origin"] = unit.origin
    if unit.extra:
        data["extra"] = unit.extra
    return data


def _plain(item: Any) -> Any:
    return item.unwrap() if hasattr(item, "unwrap") else item


def _merge(document: Any, data: dict[str, Any]) -> None:
    """Make the tomlkit `document` hold `data`, keeping comments and layout of what did not change."""
    for key in [key for key in document if key not in data]:
        del document[key]
    for key, value in data.items():
        if key in document:
            current = document[key]
            if isinstance(value, dict) and isinstance(current, Table):
                _merge(current, value)
                continue
            if _plain(current) == value:
                continue
        document[key] = value


def render_toml(data: dict[str, Any], source: str | None) -> str:
    """`data` as TOML text: `source` updated in place when given (comments kept), else fresh."""
    if source is None:
        return tomli_w.dumps(data)
    try:
        document = tomlkit.parse(source)
    except tomlkit.exceptions.TOMLKitError:
        return tomli_w.dumps(data)
    _merge(document, data)
    return tomlkit.dumps(document)


def render_course(course: CourseDocument) -> dict[str, str]:
    """The texts of the course folder of `course`: {relative path: text}."""
    files = {COURSE_FILE: render_toml(course_table(course), course.source_toml)}
    width = max(2, len(str(len(course.units) - 1)))
    for position, unit in enumerate(course.units):
        front = render_toml(unit_table(unit), unit.source_toml)
        files[f"{UNITS_DIR}{position:0{width}d}-{unit.slug}.md"] = f"{FENCE}\n{front}{FENCE}\n{unit.body}"
    return files
