"""Import and export course templates in the portable folder format (a folder or a .zip of one)."""

from __future__ import annotations

import lzma
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from sqlalchemy.orm import Session

from courses.course_file import COURSE_FILE, UNITS_DIR, CourseDocument, UnitDocument, parse_course, render_course
from courses.handles import handle_taken
from courses.models import Course, Unit
from server.floor.errors import Invalid, NotFound

MAX_FILE_BYTES = 2_000_000
# A .zip is unpacked within limits whatever its directory declares (a zip bomb packs gigabytes into
# a small upload, and the declared sizes may lie): entries, bytes unpacked in all, packing ratio.
MAX_ARCHIVE_ENTRIES = 2_000
MAX_UNPACKED_BYTES = 20_000_000
MAX_RATIO = 100
# Small files may pack better than any ratio (a short run of spaces) and are cheap to unpack anyway.
RATIO_FROM_BYTES = 100_000
_CHUNK = 64 * 1024
# What a damaged, encrypted or oddly compressed entry raises while it is read.
_UNPACK_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError, RuntimeError)
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
            if file.stat().st_size > MAX_FILE_BYTES:
                raise Invalid(f"{name}:1: larger than {MAX_FILE_BYTES} bytes")
            files[name] = _decode(name, file.read_bytes())
    return files


def _check_declared(name: str, info: zipfile.ZipInfo, room: int) -> None:
    """Refuse an entry by the sizes the zip declares, before unpacking anything of it."""
    if info.file_size > MAX_FILE_BYTES:
        raise Invalid(f"{name}:1: larger than {MAX_FILE_BYTES} bytes ({info.file_size} bytes once unpacked)")
    if info.file_size > room:
        raise Invalid(f"{name}: the course's files would unpack to more than {MAX_UNPACKED_BYTES} bytes in all")
    _check_ratio(name, info.file_size, info.compress_size)


def _check_ratio(name: str, unpacked: int, packed: int) -> None:
    if unpacked > RATIO_FROM_BYTES and unpacked > MAX_RATIO * max(packed, 1):
        raise Invalid(
            f"{name}: packed more than {MAX_RATIO} to 1 in the zip (a zip bomb?); course files are text that never packs that tightly"
        )


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, room: int) -> bytes:
    """The bytes of one entry, read in chunks that stop at the limits (the declared size may lie)."""
    _check_declared(name, info, room)
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise Invalid(f"{name}:1: larger than {MAX_FILE_BYTES} bytes (the zip declares {info.file_size})")
                if size > room:
                    raise Invalid(f"{name}: the course's files unpack to more than {MAX_UNPACKED_BYTES} bytes in all")
                _check_ratio(name, size, info.compress_size)
                chunks.append(chunk)
    except _UNPACK_ERRORS as error:
        raise Invalid(
            f"{name}: cannot be unpacked: the zip entry is damaged or its declared size is wrong ({error})"
        ) from None
    return b"".join(chunks)


def read_zip(path: Path) -> dict[str, str]:
    """The format's files in a .zip, whose root is the course folder or holds exactly one."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise Invalid(f"{path}: not a zip file") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ARCHIVE_ENTRIES:
            raise Invalid(f"{path}: holds {len(entries)} entries; a course folder has at most {MAX_ARCHIVE_ENTRIES}")
        infos = {info.filename: info for info in entries if not info.is_dir()}
        names = list(infos)
        roots = sorted({n[: -len(COURSE_FILE)] for n in names if n == COURSE_FILE or n.endswith("/" + COURSE_FILE)})
        roots = [root for root in roots if root.count("/") <= 1 and "__MACOSX" not in root]
        if len(roots) != 1:
            raise Invalid(f"{path}: the zip must hold one {COURSE_FILE} at its root or in one top folder")
        prefix = roots[0]
        files: dict[str, str] = {}
        unpacked = 0
        for name in names:
            if not name.startswith(prefix):
                continue
            relative = name[len(prefix) :]
            if _wanted(relative):
                raw = _unpack(archive, infos[name], relative, MAX_UNPACKED_BYTES - unpacked)
                unpacked += len(raw)
                files[relative] = _decode(relative, raw)
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


def import_course(
    session: Session, path: Path | str, replace: bool = False, notices: list[str] | None = None
) -> Course:
    """Create a course from a folder or .zip (or replace its draft when `replace`); all or nothing.

    What the import had to change (a unit slug made unique) is added to `notices`, to be said."""
    document = parse_course(read_source(Path(path)))
    if notices is not None:
        notices.extend(document.notices)
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
