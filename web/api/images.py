"""Pictures sent through the API (status attachments, avatars, headers): decoded and checked with
Pillow, turned upright, shrunk to size and written again as WebP, which drops EXIF and every other
piece of metadata (a phone's GPS position included). Files live under `<data dir>/media/` and are
served at /media/ (web.api.media)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.datastructures import UploadFile

from server.floor.config import get_settings
from server.floor.urls import absolute
from web.api.http import ApiError

MAX_BYTES = 16 * 1024 * 1024
MAX_PIXELS = 33_177_600  # Mastodon's image_matrix_limit (7680 x 4320)
FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"}
ATTACHMENT_SIDE = 1920  # Mastodon keeps originals at most 8.3 MP; we keep at most 1920 px a side
PREVIEW_SIDE = 640
PROFILE_SIZES = {"avatar": (400, 400), "header": (1500, 500)}


@dataclass(frozen=True)
class Stored:
    """A picture written to the media folder: its path (relative), preview, size."""

    path: str
    preview_path: str
    width: int
    height: int


def media_dir() -> Path:
    """Where pictures are kept."""
    return get_settings().data_dir / "media"


def _read(upload: UploadFile, field: str) -> bytes:
    upload.file.seek(0)
    data = upload.file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ApiError(422, f"Validation failed: {field} is larger than 16 MB")
    if not data:
        raise ApiError(422, f"Validation failed: {field} is empty")
    return data


def _open(data: bytes, field: str) -> Image.Image:
    try:
        probe = Image.open(BytesIO(data))
        if probe.format not in FORMATS:
            raise ApiError(422, f"Validation failed: {field} must be a JPEG, PNG, GIF or WebP picture")
        if probe.width * probe.height > MAX_PIXELS:
            raise ApiError(422, f"Validation failed: {field} has more than {MAX_PIXELS} pixels")
        probe.verify()
        image: Image.Image = Image.open(BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ApiError(422, f"Validation failed: {field} is not a picture this server can read") from None
    image = ImageOps.exif_transpose(image) or image
    return image.convert("RGBA" if image.mode in {"RGBA", "LA", "P"} else "RGB")


def _write(image: Image.Image, folder: str) -> str:
    relative = f"{folder}/{secrets.token_hex(16)}.webp"
    target = media_dir() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, "WEBP", quality=85)
    return relative


def store_attachment(upload: UploadFile) -> Stored:
    """A status attachment and its preview."""
    image = _open(_read(upload, "file"), "file")
    image.thumbnail((ATTACHMENT_SIDE, ATTACHMENT_SIDE))
    path = _write(image, "attachments")
    preview = image.copy()
    preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    return Stored(path=path, preview_path=_write(preview, "attachments/small"), width=image.width, height=image.height)


def store_profile_image(upload: UploadFile, kind: str) -> str:
    """An avatar (400x400, cropped to a square) or header (1500x500): its public URL."""
    image = _open(_read(upload, kind), kind)
    image = ImageOps.fit(image, PROFILE_SIZES[kind])
    return absolute(f"/media/{_write(image, kind + 's')}")
