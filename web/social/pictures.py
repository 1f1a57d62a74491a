"""Pictures of a post from the compose form: up to 4 files (`picture1`..`picture4`), each with its
description (`description1`..). Decoded, checked, resized and stripped of EXIF by community.media
(Pillow) before any transaction opens - the slow part never holds the write lock -, then their
files and rows are stored inside the post's transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from community import media
from community.models import Profile
from server.floor.errors import Invalid

MAX_PICTURES = 4
MAX_BYTES = 10 * 1024 * 1024
MAX_DESCRIPTION = 1500


@dataclass(frozen=True)
class Described:
    """One uploaded picture, read, with its description."""

    prepared: media.Prepared
    filename: str
    description: str


def uploads(form: FormData) -> list[tuple[int, UploadFile]]:
    """The non-empty picture files of the form, by their number (1..4)."""
    found = []
    for number in range(1, MAX_PICTURES + 1):
        item = form.get(f"picture{number}")
        if isinstance(item, UploadFile) and item.filename:
            found.append((number, item))
    return found


def read(files: list[tuple[int, UploadFile]], form: FormData) -> list[Described]:
    """The files' bytes with their descriptions; Invalid naming the picture when one is unfit."""
    described = []
    for number, upload in files:
        data = upload.file.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise Invalid(f"pictures: picture {number} ({upload.filename}) is larger than 10 MB")
        raw = str(form.get(f"description{number}", "") or "")
        description = "".join(c for c in raw if c.isprintable() or c in "\n\t").strip()
        if len(description) > MAX_DESCRIPTION:
            raise Invalid(f"pictures: the description of picture {number} is longer than {MAX_DESCRIPTION} characters")
        name = upload.filename or f"picture{number}"
        try:
            prepared = media.prepare(data)  # the bytes decide what the file is, not its declared type
        except Invalid as error:
            raise Invalid(f"pictures: {name}: {error}") from error
        described.append(Described(prepared, name, description))
    return described


def store(session: Session, owner: Profile | None, described: list[Described]) -> list[int]:
    """Store the pictures for `owner`'s coming post; their media ids, in order."""
    if not described:
        return []
    if owner is None:
        raise Invalid("pictures: sign in to post pictures")
    return [int(media.store(session, owner, item.prepared, item.description).id) for item in described]
