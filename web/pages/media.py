"""Uploaded images (`/media/<kind>/<name>.webp`), as `community.media` stored them: re-encoded WebP
under random names. Served with their true type, `nosniff` and a policy that lets nothing run, so a
file can never be read as a page or a script; cached for a year (a changed image gets a new name)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from community.media import KINDS, NAME, media_root
from server.floor.errors import NotFound

_NAME = re.compile(NAME)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "public, max-age=31536000, immutable",
    # Other servers and clients show avatars and attachments: they may load them.
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Content-Disposition": "inline",
}


def media_file(request: Request) -> Response:
    """GET /media/{kind}/{name}: one stored image, or 404."""
    kind, name = request.path_params["kind"], request.path_params["name"]
    if kind not in KINDS or not _NAME.fullmatch(name):
        raise NotFound(f"no image {kind[:20]}/{name[:80]}")
    path = media_root() / kind / name
    if not path.is_file():
        raise NotFound(f"no image {kind}/{name}")
    return FileResponse(path, media_type="image/webp", headers=HEADERS)


def routes() -> list[BaseRoute]:
    """Stored images."""
    return [Route("/media/{kind}/{name}", media_file, methods=["GET", "HEAD"])]
