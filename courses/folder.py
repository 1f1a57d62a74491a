"""Import and export course templates in the portable folder format (a folder or a .zip of one)."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.course_file import COURSE_FILE, UNITS_DIR, CourseDocument, UnitDocument, parse_course, render_course
from courses.handles import handle_taken
from courses.models import Course, Unit
from server.floor.errors import Invalid, NotFound

MAX_FILE_BYTES = 2_000_000
_COURSE_FIELDS = (
    "slug", "title", "summary", "language", "license", "tags", "resources", "send_time", "late_join",
    "group_size", "group_by", "questions", "origin", "origin_version", "lineage", "extra", "source_toml",
)  # fmt: skip
_UNIT_FIELDS = ("slug", "title", "day", "body", "origin", "extra", "source_toml")


def _decode(name: str, raw: bytes) -> str:
    if len(raw) > MAX_FILE_BYTES:
        raise Invalid(f"{name}:1: larger than {MAX_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise Invalid(f"{name}:{line}: not UTF-8 text") from None


def _wanted(name: str) -> bool:
    """course.toml and units/* are the format; hidden files and other files are not read."""
    parts = PurePosixPath(name).parts
    if any(part.startswith(".") or part == "__MACOSX" for part in parts):
        return False
    return name == COURSE_FILE or (name.startswith(UNITS_DIR) and len(parts) == 2)


def read_folder(path: Path) -> dict[str, str]:
    """The format's files under a course folder, by relative POSIX path."""
    if not (path / COURSE_FILE).is_file():
        raise Invalid(f"{path}: no {COURSE_FILE} here (a course folder holds course.toml and units/*.md)")
    files: dict[str, str] = {}
    for file in sorted(path.rglob("*")):
        name = file.relative_to(path).as_posix()
        if file.is_file() and _wanted(name):
            files[name] = _decode(name, file.read_bytes())
    return files


def read_zip(path: Path) -> dict[str, str]:
    """The format's files in a .zip, whose root is the course folder or holds exactly one."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise Invalid(f"{path}: not a zip file") from None
    with archive:
        names = [info.filename for info in archive.infolist() if not info.is_dir()]
        roots = sorted({n[: -len(COURSE_FILE)] for n in names if n == COURSE_FILE or n.endswith("/" + COURSE_FILE)})
        roots = [root for root in roots if root.count("/") <= 1 and "__MACOSX" not in root]
        if len(roots) != 1:
            raise Invalid(f"{path}: the zip must hold one {COURSE_FILE} at its root or in one top folder")
        prefix = roots[0]
        files: dict[str, str] = {}
        for name in names:
            if not name.startswith(prefix):
                continue
            relative = name[len(prefix) :]
            if _wanted(relative):
                files[relative] = _decode(relative, archive.read(name))
        return files


def read_source(path: Path) -> dict[str, str]:
    """The files of a course given as a folder or a .zip."""
    if path.is_dir():
        return read_folder(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        return read_zip(path)
    raise NotFound(f"{path}: neither a course folder nor a .zip of one")


def document_of(course: Course) -> CourseDocument:
    """The draft of `course` as a CourseDocument (units in order)."""
    document = CourseDocument(**{name: getattr(course, name) for name in _COURSE_FIELDS})
    document.units = [UnitDocument(**{name: getattr(unit, name) for name in _UNIT_FIELDS}) for unit in course.units]
    return document


def apply_document(session: Session, course: Course, document: CourseDocument) -> None:
    """Make the draft of `course` equal `document` (fields and units); marks the draft changed."""
    for name in _COURSE_FIELDS:
        setattr(course, name, getattr(document, name))
    course.units.clear()
    session.flush()
    for position, unit in enumerate(document.units):
        course.units.append(Unit(position=position, **{name: getattr(unit, name) for name in _UNIT_FIELDS}))
    course.draft_changed = True
    session.flush()


def import_course(session: Session, path: Path | str, replace: bool = False) -> Course:
    """Create a course from a folder or .zip (or replace its draft when `replace`); all or nothing."""
    document = parse_course(read_source(Path(path)))
    existing = session.scalar(select(Course).where(Course.slug == document.slug))
    if existing is not None and not replace:
        raise Invalid(f"{COURSE_FILE}: a course with slug {document.slug} exists already (import with --replace)")
    if existing is None and handle_taken(session, document.slug):
        raise Invalid(f"{COURSE_FILE}: slug {document.slug} is taken by a person, run or group on this instance")
    # A savepoint: a failure while writing leaves no half-imported course behind.
    with session.begin_nested():
        course = existing or Course(slug=document.slug, title=document.title)
        if existing is None:
            session.add(course)
        apply_document(session, course, document)
    return course


def export_course(session: Session, slug: str, path: Path | str) -> list[Path]:
    """Write the draft of course `slug` as a folder at `path` (or a .zip if it ends in .zip)."""
    course = session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        raise NotFound(f"no course with slug {slug}")
    files = render_course(document_of(course))
    target = Path(path)
    if target.suffix.lower() == ".zip":
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, text in files.items():
                archive.writestr(f"{slug}/{name}", text)
        return [target]
    if target.exists() and any(target.iterdir()) and not (target / COURSE_FILE).is_file():
        raise Invalid(f"{target}: exists and is not a course folder; export into an empty or new folder")
    (target / UNITS_DIR).mkdir(parents=True, exist_ok=True)
    # Units that are no longer in the course must not linger from an earlier export.
    for stale in (target / UNITS_DIR).glob("*.md"):
        if f"{UNITS_DIR}{stale.name}" not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        (target / name).write_bytes(text.encode("utf-8"))
        written.append(target / name)
    return written
