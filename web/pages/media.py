"""Uploaded images (`/media/<folder>/<name>.webp`), as `community.media` (and the client API's
`web.api.images`) stored them: re-encoded WebP under random names. Served with their true type, `nosniff` and a policy that lets nothing run, so a
file can never be read as a page or a script; cached for a year (a changed image gets a new name)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from community.media import media_root
from server.floor.errors import NotFound

# The folders and names the writers use: community.media (attachment, avatar, header; "-small"
# previews) and web.api.images (attachments, attachments/small, avatars, headers). Nothing else is served.
_PATH = re.compile(
    r"(?:attachment|avatar|header|attachments|attachments/small|avatars|headers)/[0-9a-f]{32}(?:-small)?\.webp"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "public, max-age=31536000, immutable",
    # Other servers and clients show avatars and attachments: they may load them.
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Content-Disposition": "inline",
}


def media_file(request: Request) -> Response:
    """GET /media/{path}: one stored image, or 404."""
    relative = request.path_params["path"]
    if not _PATH.fullmatch(relative):
        raise NotFound(f"no image {relative[:100]}")
    path = media_root() / relative
    if not path.is_file():
        raise NotFound(f"no image {relative}")
    return FileResponse(path, media_type="image/webp", headers=HEADERS)


def routes() -> list[BaseRoute]:
    """Stored images."""
    return [Route("/media/{path:path}", media_file, methods=["GET", "HEAD"])]
