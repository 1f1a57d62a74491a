"""Random and hostile course folders: a CourseDocument or `Invalid` naming the file, never another exception.

The strategies start from the real gentle-python folder in tests/fixtures/courses and mutate it:
values of the wrong type, huge numbers for `day`, deep nesting, random TOML and front matter, bad
UTF-8, and zips whose entry names climb out of the folder (`../`, absolute, backslashes).
"""

from __future__ import annotations

import datetime
import io
import tempfile
import tomllib
import warnings
import zipfile
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from courses.course_file import COURSE_FILE, UNITS_DIR, parse_course, parse_unit
from courses.folder import import_course, read_folder, read_zip
from server.floor.errors import Invalid
from server.floor.settings import Settings
from tests.conftest import FIXTURES
from tests.security.fuzzing import FUZZ, FUZZ_PURE, bounded, huge, nasty_text

GENTLE = FIXTURES / "courses" / "gentle-python"
FILES = {path.relative_to(GENTLE).as_posix(): path.read_text() for path in GENTLE.rglob("*") if path.is_file()}
COURSE = tomllib.loads(FILES[COURSE_FILE])
UNIT_NAMES = sorted(name for name in FILES if name.startswith(UNITS_DIR))


def _names_a_file(error: Invalid, names: list[str]) -> bool:
    """True when the message starts with one of the folder's file names (or the archive's path)."""
    return any(str(error).startswith(name) for name in names)


def _parsed_or_invalid(files: dict[str, str]) -> None:
    with bounded():
        try:
            parse_course(files)
        except Invalid as error:
            assert _names_a_file(error, [*files, COURSE_FILE]), str(error)


# --- values of the wrong type, in the right places ------------------------------------------------

toml_scalar = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    nasty_text,
    huge(low=1_000, high=100_000),
    st.dates(),
    st.datetimes(),
)
toml_value = st.recursive(
    toml_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(min_size=1, max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)
COURSE_PATHS = [
    ("slug",), ("title",), ("summary",), ("language",), ("license",), ("tags",), ("resources",), ("questions",),
    ("extra",), ("schedule",), ("schedule", "send_time"), ("schedule", "late_join"), ("groups",),
    ("groups", "size"), ("groups", "by"), ("provenance",), ("provenance", "origin"), ("provenance", "version"),
    ("provenance", "lineage"), ("unknown",),
]  # fmt: skip


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    target = data
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    target[path[-1]] = value
    return data


def _dropped(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


course_tables = st.one_of(
    st.builds(
        lambda path, value: _set(tomllib.loads(FILES[COURSE_FILE]), path, value),
        st.sampled_from(COURSE_PATHS),
        toml_value,
    ),  # fmt: skip
    st.builds(_dropped, st.just(COURSE), st.sampled_from(sorted(COURSE))),
)


@FUZZ_PURE
@given(table=course_tables)
def test_course_toml_of_any_shape(table: dict[str, Any]) -> None:
    _parsed_or_invalid({**FILES, COURSE_FILE: tomli_w.dumps(table)})


UNIT_KEYS = ["title", "day", "origin", "extra", "position", "slug"]
front_matter = st.dictionaries(st.sampled_from(UNIT_KEYS), toml_value, max_size=4).map(
    lambda data: {"title": "T", "day": 1} | data
)
day_values = st.one_of(st.integers(), st.integers(min_value=2**31, max_value=2**63 - 1).map(lambda n: -n), toml_value)


@FUZZ_PURE
@given(name=st.sampled_from(UNIT_NAMES), front=front_matter, body=st.one_of(nasty_text, huge(low=1_000)))
@example(name=UNIT_NAMES[1], front={"title": "T", "day": 2**63 - 1}, body="")
@example(name=UNIT_NAMES[1], front={"title": "T", "day": -(2**63)}, body="")
def test_unit_front_matter_of_any_shape(name: str, front: dict[str, Any], body: str) -> None:
    _parsed_or_invalid({**FILES, name: f"+++\n{tomli_w.dumps(front)}+++\n{body}"})


@FUZZ_PURE
@given(day=day_values)
def test_any_day(day: Any) -> None:
    text = f"+++\n{tomli_w.dumps({'title': 'T', 'day': day})}+++\nbody\n"
    with bounded():
        try:
            unit = parse_unit("units/01-x.md", text)
        except Invalid as error:
            assert str(error).startswith("units/01-x.md:"), str(error)
        else:
            assert 0 <= unit.day < 2**31


# --- text that is not TOML, nesting, file names -----------------------------------------------------


def _nested(depth: int, opening: str, closing: str) -> str:
    return f"extra = {{ x = {opening * depth}1{closing * depth} }}\n"


nested_toml = st.builds(
    lambda depth, brackets: _nested(depth, *brackets),
    st.integers(1, 5000),
    st.sampled_from([("[", "]"), ("{ a = ", " }")]),
)
dotted_toml = st.builds(lambda depth: "extra." + ".".join(["a"] * depth) + " = 1\n", st.integers(1, 5000))
toml_text = st.one_of(
    st.text(max_size=300),
    nasty_text,
    nested_toml,
    dotted_toml,
    st.builds(
        lambda head, tail: head + tail,
        st.sampled_from(FILES[COURSE_FILE].splitlines(keepends=True)),
        st.text(max_size=50),
    ),  # fmt: skip
)
unit_file_name = st.one_of(
    st.sampled_from(UNIT_NAMES),
    st.builds(lambda name: UNITS_DIR + name, st.text(min_size=1, max_size=20)),
    st.sampled_from(["units/../course.toml", "units/.md", "units/00-.md", "units/CON.md", "units/a/b.md"]),
)


@FUZZ_PURE
@given(course=toml_text)
@example(course='slug = "x"\ntitle = "x"\n' + _nested(2000, "[", "]"))
@example(course='slug = "x"\ntitle = "x"\n' + "extra." + ".".join(["a"] * 2000) + " = 1\n")
def test_course_toml_text(course: str) -> None:
    _parsed_or_invalid({**FILES, COURSE_FILE: 'slug = "x"\ntitle = "x"\n' + course})
    _parsed_or_invalid({**FILES, COURSE_FILE: course})


@FUZZ_PURE
@given(name=unit_file_name, front=toml_text, body=st.text(max_size=200), fence=st.sampled_from(["+++", "+++ ", "---"]))
def test_unit_files_of_any_text(name: str, front: str, body: str, fence: str) -> None:
    _parsed_or_invalid({**FILES, name: f"{fence}\ntitle = 'T'\nday = 1\n{front}\n+++\n{body}"})


# --- bytes from disk and from zips --------------------------------------------------------------------

ZIP_NAMES = [
    COURSE_FILE, "units/00-welcome.md", "../course.toml", "/etc/course.toml", "../../units/00-x.md",
    "c/units/../../../x.md", "c\\..\\..\\course.toml", "units/\x00.md", "units//00-x.md", ".hidden/course.toml",
    "__MACOSX/course.toml", "a/b/c/course.toml", "c/course.toml", "units/00-ñ.md",
]  # fmt: skip
contents = st.one_of(
    st.sampled_from(sorted(FILES.values())).map(str.encode),
    st.binary(max_size=300),
    st.sampled_from([b"\xff\xfe\x00", b'slug = "\xc3\x28"\n', b"\xef\xbb\xbfslug = 'x'\n"]),
)
entries = st.lists(st.tuples(st.one_of(st.sampled_from(ZIP_NAMES), st.text(min_size=1, max_size=30)), contents),
                   max_size=8)  # fmt: skip


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duplicate names are one of the hostile inputs
        for name, data in members:
            if name.split("\x00", 1)[0]:  # zipfile cuts a name at NUL and fails on what is then empty
                archive.writestr(name, data)
    return buffer.getvalue()


@FUZZ_PURE
@given(members=entries, garbage=st.booleans())
@example(members=[("../course.toml", FILES[COURSE_FILE].encode()), ("../units/00-x.md", b"+++\n")], garbage=False)
def test_zips_of_any_names_and_bytes(members: list[tuple[str, bytes]], garbage: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "course.zip"
        path.write_bytes(_zip(members)[: -22 if garbage else None])
        with bounded():
            try:
                files = read_zip(path)
            except Invalid as error:
                assert _names_a_file(error, [str(path), *(name.rsplit("/", 1)[-1] for name, _ in members)]) or (
                    "/" in str(error)
                ), str(error)
                return
        # Whatever was read lies inside the folder: no name climbs out of it.
        assert all(".." not in Path(name).parts and not name.startswith("/") for name in files), files
        _parsed_or_invalid(files)


@FUZZ_PURE
@given(course=contents, unit=contents)
@example(course=FILES[COURSE_FILE].encode(), unit=b"+++\ntitle = '\xff'\nday = 1\n+++\n")
def test_folders_of_any_bytes(course: bytes, unit: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "units").mkdir()
        (root / COURSE_FILE).write_bytes(course)
        (root / "units" / "01-unit.md").write_bytes(unit)
        with bounded():
            try:
                files = read_folder(root)
            except Invalid as error:
                assert _names_a_file(error, [COURSE_FILE, "units/01-unit.md"]), str(error)
                return
        _parsed_or_invalid(files)


@FUZZ
@given(path=st.sampled_from(COURSE_PATHS), value=toml_value, day=day_values)
# A TOML date in extra reached the JSON column: TypeError at flush.
@example(path=("extra",), value={"0": datetime.date(2000, 1, 1)}, day=0)
@example(path=("questions",), value=[{"id": "a", "label": "A", "kind": "text", "x": datetime.time(9)}], day=0)
def test_import_stores_or_refuses(settings: Settings, session: Session, path: tuple[str, ...], value: Any,
                                  day: Any) -> None:  # fmt: skip
    """Whatever passes the parser is stored (the database takes every value it was allowed)."""
    files = {**FILES, COURSE_FILE: tomli_w.dumps(_set(tomllib.loads(FILES[COURSE_FILE]), path, value))}
    files[UNIT_NAMES[0]] = f"+++\n{tomli_w.dumps({'title': 'T', 'day': day})}+++\nHello\n"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        with bounded(4.0):
            try:
                import_course(session, root, replace=True)
            except Invalid as error:
                assert _names_a_file(error, [*files, COURSE_FILE]), str(error)
            session.rollback()
