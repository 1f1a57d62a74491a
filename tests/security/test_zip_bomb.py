"""Trust, item 8: a zip bomb uploaded as a course must be refused before it is unpacked.

The attack: a 1.5 MB upload of a course whose unit unpacks to gigabytes took the web process to
3.1 GB of memory, because sizes were checked after decompression. Each test builds a real bomb
with `zipfile` and shows that the import stops early, names the entry, and stays small in memory.
"""
# ruff: noqa: F811  (pytest fixtures imported from tests.web.coursepages are test parameters)

from __future__ import annotations

import base64
import io
import os
import struct
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from courses.folder import MAX_ARCHIVE_ENTRIES, import_course
from server.floor.errors import Invalid
from tests.web.coursepages import GENTLE, World, logged_in, token_on, web, world  # noqa: F401

BOMB = "bomb/units/99-bomb.md"
MB = 1_000_000
# What unpacking may cost: far below the 200 MB the bombs hold.
MEMORY_CEILING = 20 * MB


def course_zip(extra: Callable[[zipfile.ZipFile], None]) -> bytes:
    """The gentle-python course as a zip (slug `bomb`), with whatever `extra` adds."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(GENTLE.rglob("*")):
            if file.is_file():
                text = file.read_text().replace('slug = "gentle-python"', 'slug = "bomb"')
                archive.writestr(f"bomb/{file.relative_to(GENTLE).as_posix()}", text)
        extra(archive)
    return buffer.getvalue()


def zeros(megabytes: int) -> Callable[[zipfile.ZipFile], None]:
    """A unit of `megabytes` MB of zeros after valid front matter, written in streaming (never whole in memory)."""

    def add(archive: zipfile.ZipFile) -> None:
        with archive.open(BOMB, "w") as unit:
            unit.write(b'+++\ntitle = "Boom"\nday = 99\n+++\n')
            for _ in range(megabytes):
                unit.write(b"\0" * MB)

    return add


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """`data` with the unpacked size of entry `name` rewritten to `size` (the central directory and the local header)."""
    patched = bytearray(data)
    encoded = name.encode()
    central = patched.find(b"PK\x01\x02")
    while central != -1:
        length = struct.unpack_from("<H", patched, central + 28)[0]
        if patched[central + 46 : central + 46 + length] == encoded:
            struct.pack_into("<I", patched, central + 24, size)
            local = struct.unpack_from("<I", patched, central + 42)[0]
            struct.pack_into("<I", patched, local + 22, size)
            return bytes(patched)
        central = patched.find(b"PK\x01\x02", central + 4)
    raise AssertionError(f"no entry {name} in the zip")


def import_measured(session: Session, path: Path) -> tuple[str, int]:
    """The error the import of `path` gives, and the peak memory it allocated meanwhile."""
    tracemalloc.start()
    try:
        with pytest.raises(Invalid) as refused:
            import_course(session, path)
        return str(refused.value), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_zip_bomb_is_refused_by_its_declared_size(session: Session, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(course_zip(zeros(200)))
    assert bomb.stat().st_size < MB  # 200 MB of zeros pack into a few hundred kB
    message, peak = import_measured(session, bomb)
    assert "units/99-bomb.md" in message and "larger than" in message
    assert peak < MEMORY_CEILING


def test_a_zip_bomb_that_declares_a_small_size_is_stopped_while_reading(session: Session, tmp_path: Path) -> None:
    bomb = tmp_path / "liar.zip"
    bomb.write_bytes(declare_size(course_zip(zeros(200)), BOMB, 1_000))
    assert zipfile.ZipFile(bomb).getinfo(BOMB).file_size == 1_000
    message, peak = import_measured(session, bomb)
    assert "units/99-bomb.md" in message and "declared size" in message
    assert peak < MEMORY_CEILING


def test_an_entry_that_packs_too_tightly_is_refused(session: Session, tmp_path: Path) -> None:
    """Under the per-file limit, but 1.5 MB of zeros pack a thousand to one: no course text does."""
    dense = tmp_path / "dense.zip"

    def add(archive: zipfile.ZipFile) -> None:
        archive.writestr(BOMB, '+++\ntitle = "Dense"\nday = 99\n+++\n' + " " * 1_500_000)

    dense.write_bytes(course_zip(add))
    message, _peak = import_measured(session, dense)
    assert "units/99-bomb.md" in message and "packed more than 100 to 1" in message


def test_too_many_entries_and_too_many_bytes_in_all_are_refused(session: Session, tmp_path: Path) -> None:
    crowded = tmp_path / "crowded.zip"

    def many(archive: zipfile.ZipFile) -> None:
        for index in range(MAX_ARCHIVE_ENTRIES):
            archive.writestr(f"bomb/extra/{index}.txt", "")

    crowded.write_bytes(course_zip(many))
    with pytest.raises(Invalid, match=f"at most {MAX_ARCHIVE_ENTRIES}"):
        import_course(session, crowded)

    heavy = tmp_path / "heavy.zip"

    def big_units(archive: zipfile.ZipFile) -> None:
        # Text that does not pack (random letters): each unit is under the per-file limit, together over 20 MB.
        for index in range(11):
            body = base64.b64encode(os.urandom(1_400_000)).decode()
            archive.writestr(f"bomb/units/{50 + index}-big.md", f'+++\ntitle = "Big"\nday = {50 + index}\n+++\n{body}')

    heavy.write_bytes(course_zip(big_units))
    message, peak = import_measured(session, heavy)
    assert "units/60-big.md" in message and "more than 20000000 bytes in all" in message
    assert peak < 40 * MB


def test_the_upload_page_names_the_bomb_and_answers_400(world: World, web: TestClient) -> None:
    logged_in(web, world.other)
    for name, data in (
        ("bomb.zip", course_zip(zeros(200))),
        ("liar.zip", declare_size(course_zip(zeros(200)), BOMB, 1_000)),
    ):
        response = web.post(
            "/organize/import",
            data={"csrf_token": token_on(web, "/organize/import")},
            files={"archive": (name, data, "application/zip")},
            follow_redirects=False,
        )
        assert response.status_code == 400, response.text
        assert f"{name}: units/99-bomb.md" in response.text
