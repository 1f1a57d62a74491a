"""Unit files that differ only by their number (`00-dia.md`, `01-dia.md`) import with unique slugs, said so."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from courses.folder import export_course, import_course

UNIT = '+++\ntitle = "{title}"\nday = {day}\n+++\nSlide {title}.\n'


def slides(folder: Path) -> Path:
    (folder / "units").mkdir(parents=True)
    (folder / "course.toml").write_text('slug = "slides"\ntitle = "Slides"\n')
    for number, name in enumerate(("00-dia", "01-dia", "02-dia-2", "03-dia")):
        (folder / "units" / f"{name}.md").write_text(UNIT.format(title=f"Dia {number}", day=number))
    return folder


def test_units_named_alike_get_unique_slugs_and_the_import_says_so(session: Session, tmp_path: Path) -> None:
    notices: list[str] = []
    course = import_course(session, slides(tmp_path / "slides"), notices=notices)
    assert [unit.slug for unit in course.units] == ["dia", "dia-3", "dia-2", "dia-4"]
    assert [unit.title for unit in course.units] == ["Dia 0", "Dia 1", "Dia 2", "Dia 3"]
    assert notices == [
        "units/01-dia.md: unit slug 'dia' is used by units/00-dia.md too, so this unit's slug is 'dia-3'",
        "units/03-dia.md: unit slug 'dia' is used by units/00-dia.md too, so this unit's slug is 'dia-4'",
    ]
    # What was exported imports again as it is, with nothing to say.
    export_course(session, "slides", tmp_path / "copy")
    again: list[str] = []
    copy = import_course(session, tmp_path / "copy", replace=True, notices=again)
    assert [unit.slug for unit in copy.units] == ["dia", "dia-3", "dia-2", "dia-4"] and again == []


def test_a_long_slug_stays_within_the_slug_limit(session: Session, tmp_path: Path) -> None:
    folder = tmp_path / "long"
    (folder / "units").mkdir(parents=True)
    (folder / "course.toml").write_text('slug = "long"\ntitle = "Long"\n')
    long = "a" * 63
    for number in range(2):
        (folder / "units" / f"{number:02d}-{long}.md").write_text(UNIT.format(title=str(number), day=number))
    course = import_course(session, folder)
    assert [unit.slug for unit in course.units] == [long, "a" * 61 + "-2"]
