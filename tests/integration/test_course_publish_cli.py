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
