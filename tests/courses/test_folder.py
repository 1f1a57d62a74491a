"""The portable folder format: lossless round trip over every fixture, errors naming file and line."""

from __future__ import annotations

import shutil
import tomllib
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from courses.folder import export_course, import_course
from courses.models import Course, Unit
from server.floor.errors import Invalid
from tests.conftest import FIXTURES

COURSES = sorted((FIXTURES / "courses").iterdir())


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("folder", COURSES, ids=[p.name for p in COURSES])
def test_import_then_export_gives_back_the_same_bytes(session: Session, tmp_path: Path, folder: Path) -> None:
    course = import_course(session, folder)
    session.commit()
    export_course(session, course.slug, tmp_path / "out")
    assert _files(tmp_path / "out") == _files(folder)


def test_import_reads_every_field_and_unit(session: Session) -> None:
    course = import_course(session, FIXTURES / "courses" / "gentle-python")
    assert (course.slug, course.license, course.language) == ("gentle-python", "CC-BY-SA-4.0", "en")
    assert (course.send_time, course.late_join, course.group_size) == ("09:00", "catch_up", 20)
    assert course.group_by == ["timezone", "language"] and course.tags[0] == "python"
    assert [r["title"].split(":")[0] for r in course.resources] == ["MIT OpenCourseWare 6.189", "Codecademy"]
    assert [(u.slug, u.day) for u in course.units][:2] == [("welcome", 0), ("variables", 7)]
    assert course.units[0].body.startswith('Hello {{ learner.name | default("there") }},\n')


def test_an_edited_course_exports_its_changes_and_keeps_the_comments(session: Session, tmp_path: Path) -> None:
    course = import_course(session, FIXTURES / "courses" / "gentle-python")
    course.send_time = "18:30"
    course.units[1].day = 8
    course.units[2].title = "Week 2: If and else"
    export_course(session, course.slug, tmp_path / "out")
    text = (tmp_path / "out" / "course.toml").read_text()
    assert 'send_time = "18:30"' in text and "# target study-group size" in text
    assert tomllib.loads(text)["schedule"]["send_time"] == "18:30"
    unit = (tmp_path / "out" / "units" / "02-conditionals.md").read_text()
    assert 'title = "Week 2: If and else"' in unit
    assert "day = 8" in (tmp_path / "out" / "units" / "01-variables.md").read_text()


def test_a_course_without_source_text_exports_equal_content(session: Session, tmp_path: Path) -> None:
    course = import_course(session, FIXTURES / "courses" / "gentle-python")
    course.source_toml = None
    for unit in course.units:
        unit.source_toml = None
    export_course(session, course.slug, tmp_path / "out")
    original = FIXTURES / "courses" / "gentle-python"
    assert tomllib.loads((tmp_path / "out" / "course.toml").read_text()) == tomllib.loads(
        (original / "course.toml").read_text()
    )
    for name in (original / "units").iterdir():
        exported = (tmp_path / "out" / "units" / name.name).read_text()
        assert exported.split("+++\n", 2)[2] == name.read_text().split("+++\n", 2)[2]


def test_zip_import_and_export(session: Session, tmp_path: Path) -> None:
    source = FIXTURES / "courses" / "gentle-python"
    archive = tmp_path / "course.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for name, data in _files(source).items():
            handle.writestr(f"gentle-python/{name}", data)
    course = import_course(session, archive)
    assert len(course.units) == 7
    export_course(session, course.slug, tmp_path / "again.zip")
    with zipfile.ZipFile(tmp_path / "again.zip") as handle:
        assert handle.read("gentle-python/units/06-project.md") == (source / "units" / "06-project.md").read_bytes()


def _broken(tmp_path: Path, name: str, old: str, new: str) -> Path:
    folder = tmp_path / "broken"
    shutil.copytree(FIXTURES / "courses" / "gentle-python", folder)
    path = folder / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return folder


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        ("course.toml", 'language = "en"', 'language = "en', "course.toml:7: invalid TOML"),
        ("course.toml", "CC-BY-SA-4.0", "CC-BY-SAME-4.0", "course.toml:8: license 'CC-BY-SAME-4.0' is not an SPDX"),
        ("course.toml", 'tags = ["python"', 'colour = "red"\ntags = ["python"', "course.toml:9: unknown key 'colour'"),
        ("course.toml", "size = 20", "size = 20\nsise = 3", "course.toml:18: unknown key groups.sise"),
        ("course.toml", 'late_join = "catch_up"', 'late_join = "never"', "course.toml:14: schedule.late_join 'never'"),
        ("units/01-variables.md", "day = 7\n", "", "units/01-variables.md:1: the front matter has no day"),
        ("units/01-variables.md", "day = 7", "day = 7\nweek = 1", "units/01-variables.md:4: unknown key 'week'"),
        ("units/01-variables.md", "day = 7", 'day = "seven"', "units/01-variables.md:3: day 'seven'"),
        (
            "units/02-conditionals.md",
            "{{ group.address }}",
            "{{ group.adress }}",
            "units/02-conditionals.md:7: the body",
        ),
        ("units/03-functions.md", "- Practice", "{% if %}", "units/03-functions.md:6: the body does not render"),
        ("units/04-lists-loops.md", "+++\nt", "t", "units/04-lists-loops.md:1: a unit file starts with a +++"),
    ],
)
def test_bad_files_are_named_with_their_line_and_nothing_is_imported(
    session: Session, tmp_path: Path, name: str, old: str, new: str, message: str
) -> None:
    folder = _broken(tmp_path, name, old, new)
    with pytest.raises(Invalid) as caught:
        import_course(session, folder)
    assert str(caught.value).startswith(message), str(caught.value)
    assert session.scalar(select(func.count()).select_from(Course)) == 0
    assert session.scalar(select(func.count()).select_from(Unit)) == 0


def test_sandbox_refuses_unsafe_attribute_access(session: Session, tmp_path: Path) -> None:
    folder = _broken(tmp_path, "units/05-dictionaries.md", "- Practice", "{{ ''.__class__.__mro__ }}")
    with pytest.raises(Invalid, match=r"units/05-dictionaries.md:6: the body does not render: .*unsafe"):
        import_course(session, folder)


def test_importing_the_same_slug_twice_is_refused_unless_replacing(session: Session, tmp_path: Path) -> None:
    import_course(session, FIXTURES / "courses" / "gentle-python")
    session.commit()
    with pytest.raises(Invalid, match="exists already"):
        import_course(session, FIXTURES / "courses" / "gentle-python")
    folder = _broken(tmp_path, "course.toml", "size = 20", "size = 12")
    course = import_course(session, folder, replace=True)
    session.commit()
    assert course.group_size == 12 and len(course.units) == 7 and course.draft_changed
    assert session.scalar(select(func.count()).select_from(Unit)) == 7
