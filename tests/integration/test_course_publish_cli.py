"""`mechmooc course publish SLUG` (CONTRACT): publishes the draft, prints the version number last."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_courses_cli import GENTLE, _cli


def test_course_publish_prints_the_version_number(tmp_path: Path) -> None:
    mechmooc = _cli(tmp_path, None)
    mechmooc("course", "import", str(GENTLE))
    first = mechmooc("course", "publish", "gentle-python").stdout.splitlines()
    assert first == ["published gentle-python version 1 (runs created from now on pin it)", "1"]
    unchanged = mechmooc("course", "publish", "gentle-python").stdout.splitlines()
    assert unchanged[-1] == "1" and "nothing published" in unchanged[0]
    mechmooc("course", "import", "--replace", str(GENTLE))  # the draft changed
    assert mechmooc("course", "publish", "gentle-python").stdout.splitlines()[-1] == "2"
    missing = mechmooc("course", "publish", "nope", check=False)
    assert missing.returncode != 0 and missing.stderr.startswith("error: no course with slug nope")


def test_course_import_says_which_unit_slugs_it_made_unique(tmp_path: Path) -> None:
    from tests.courses.test_unit_slugs import slides

    done = _cli(tmp_path, None)("course", "import", str(slides(tmp_path / "slides"))).stdout.splitlines()
    assert done[0] == "imported slides: Slides (4 units)"
    assert (
        done[1]
        == "note: units/01-dia.md: unit slug 'dia' is used by units/00-dia.md too, so this unit's slug is 'dia-3'"
    )
    assert done[-1].endswith("/courses/slides")
