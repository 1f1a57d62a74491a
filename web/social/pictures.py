"""Pictures of a post from the compose form: up to 4 files (`picture1`..`picture4`), each with its
description (`description1`..), read and checked before any transaction opens, then stored by
community.media (validated, resized and stripped of EXIF with Pillow) inside the post's transaction."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from community.models import Profile
from server.floor.errors import Invalid

MAX_PICTURES = 4
MAX_BYTES = 10 * 1024 * 1024
MAX_DESCRIPTION = 1500


@dataclass(frozen=True)
class Described:
    """One uploaded picture, read, with its description."""

    data: bytes
    content_type: str
    filename: str
    description: str


def available() -> bool:
    """Whether this server stores pictures of posts (community.media is there)."""
    return importlib.util.find_spec("community.media") is not None


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
    if files and not available():
        raise Invalid("pictures: this server does not take pictures in posts yet")
    described = []
    for number, upload in files:
        data = upload.file.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise Invalid(f"picture {number} ({upload.filename}) is larger than 10 MB")
        kind = (upload.content_type or "").split(";")[0].strip().lower()  # community.media checks the bytes
        description = str(form.get(f"description{number}", "") or "").strip()
        if len(description) > MAX_DESCRIPTION:
            raise Invalid(f"description of picture {number} is longer than {MAX_DESCRIPTION} characters")
        described.append(Described(data, kind, upload.filename or f"picture{number}", description))
    return described


def store(session: Session, owner: Profile | None, described: list[Described]) -> list[int]:
    """Store the pictures for `owner`'s coming post; their media ids, in order."""
    if not described:
        return []
    if owner is None:
        raise Invalid("pictures: sign in to post pictures")
    media = importlib.import_module("community.media")
    ids = []
    for item in described:
        try:
            stored = media.process_upload(session, owner, item.data, description=item.description)
        except Invalid as error:
            raise Invalid(f"pictures: {item.filename}: {error}") from error
        ids.append(int(stored.id))
    return ids
