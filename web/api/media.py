"""Media: POST /api/v2/media (and v1) - a picture checked, upright, shrunk and stripped of its
metadata (community.media) - then GET/PUT /api/v1/media/:id for its state and alt text. The files
are served at /media/ by web.pages.media (nosniff, image/webp, a sandbox CSP).

Pictures are processed while the upload is answered, so v2 answers 200 with the URL set (Mastodon
answers 202 with `url: null` while it processes; apps handle both)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.routing import BaseRoute, Route

from community import media as pictures
from community.models import Media
from server.floor.db import session_scope, write_scope
from web.api import lookup
from web.api.entities import media_attachment
from web.api.http import ApiError, Call, endpoint

MAX_DESCRIPTION = pictures.MAX_DESCRIPTION


def _description(call: Call) -> str | None:
    if call.params.get("description") is None:
        return None
    return call.params.text("description", limit=MAX_DESCRIPTION)


def read_upload(file: UploadFile, kind: str) -> pictures.Prepared:
    """An uploaded picture checked and encoded by community.media (before any transaction opens)."""
    limit = pictures.MAX_BYTES[kind]
    file.file.seek(0)
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise ApiError(422, f"Validation failed: {kind} is larger than {limit // pictures.MB} MB")
    return pictures.prepare(data, kind)


@endpoint("write:media")
def upload(call: Call) -> dict[str, Any]:
    """POST /api/v2/media and /api/v1/media (file, description)."""
    file = call.params.file("file")
    if file is None:
        raise ApiError(422, "Validation failed: File can't be blank")
    if (file.content_type or "").split(";")[0].strip().lower().startswith(("video/", "audio/")):
        raise ApiError(422, "Validation failed: only pictures can be attached on this server")
    prepared = read_upload(file, "attachment")
    with write_scope() as db:
        return media_attachment(pictures.store(db, lookup.me(db, call), prepared, _description(call) or ""))


def _mine(db: Any, call: Call) -> Media:
    row = db.get(Media, call.id())
    if row is None or row.profile_id != lookup.me(db, call).id:
        raise ApiError(404, "Record not found")
    return row


@endpoint("write:media")
def show(call: Call) -> dict[str, Any]:
    """GET /api/v1/media/:id (206 while processing, as Mastodon)."""
    with session_scope() as db:
        return media_attachment(_mine(db, call))


@endpoint("write:media")
def update(call: Call) -> dict[str, Any]:
    """PUT /api/v1/media/:id: change the alt text (before or after posting)."""
    with write_scope() as db:
        row = _mine(db, call)
        description = _description(call)
        if description is not None:
            pictures.describe(db, row, description)
        return media_attachment(row)


def routes() -> list[BaseRoute]:
    """The media endpoints and the files."""
    return [
        Route("/api/v2/media", upload, methods=["POST"]),
        Route("/api/v1/media", upload, methods=["POST"]),
        Route("/api/v1/media/{id}", show, methods=["GET"]),
        Route("/api/v1/media/{id}", update, methods=["PUT"]),
    ]
