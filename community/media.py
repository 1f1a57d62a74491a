"""Uploaded images: a status's attachments (up to 4), a person's avatar and header.

Every upload is decoded with Pillow, never trusted by its name or declared type: only JPEG, PNG, WebP
and GIF are opened (`Image.open(formats=...)`), a file over its kind's byte limit or an image over
MAX_PIXELS is refused before its pixels are decoded (a decompression bomb: a small PNG of a huge
canvas), then the image is turned upright (its EXIF orientation), resized (avatar 400x400 and header
1500x500, cropped to fill; an attachment at most 1920 px a side, with a 640 px preview) and encoded
again as WebP, which drops EXIF and every other piece of metadata (GPS positions, camera serials).

Files live under `<data dir>/media/<kind>/<random>.webp` (random names: a private status's image
cannot be found by counting), served at `/media/<kind>/<name>` by the web package.
"""

from __future__ import annotations

import io
import os
import secrets
import warnings
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from PIL import Image, ImageOps
from sqlalchemy import select
from sqlalchemy.orm import Session

from community.models import Media, Profile, Report, Status
from server.floor.clock import now
from server.floor.config import get_settings
from server.floor.errors import Invalid
from server.floor.ids import new_id
from server.floor.urls import absolute

KINDS = ("attachment", "avatar", "header")
FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
MB = 1024 * 1024
MAX_BYTES = {"attachment": 16 * MB, "avatar": 8 * MB, "header": 8 * MB}
# 8K UHD: larger images are refused before their pixels are decoded (Pillow itself refuses at twice this).
MAX_PIXELS = 7680 * 4320
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
MAX_DESCRIPTION = 1500
MAX_ATTACHMENTS = 4
BOXES = {"avatar": (400, 400), "header": (1500, 500)}
ATTACHMENT_SIDE = 1920
PREVIEW_SIDE = 640
NAME = r"[0-9a-f]{32}(?:-small)?\.webp"


@dataclass(frozen=True)
class Encoded:
    """An image as stored: WebP bytes and its size in pixels."""

    data: bytes
    width: int
    height: int


def media_root() -> Path:
    """The folder uploaded images are kept in (under the instance's data directory)."""
    return get_settings().data_dir / "media"


def media_url(path: str) -> str:
    """The public URL of a stored file (`path` relative to the media folder)."""
    return absolute(f"/media/{path}")


def decode(data: bytes, kind: str = "attachment") -> Image.Image:
    """The first frame of an uploaded image, upright, in RGB or RGBA; Invalid naming the file otherwise."""
    if kind not in KINDS:
        raise Invalid(f"kind {kind[:20]!r} is not one of {', '.join(KINDS)}")
    limit = MAX_BYTES[kind]
    if not data:
        raise Invalid("file: the file is empty")
    if len(data) > limit:
        raise Invalid(f"file: {len(data) / MB:.1f} MB is over the {limit // MB} MB an {kind} may have")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            if image.width * image.height > MAX_PIXELS or image.width < 1 or image.height < 1:
                raise Invalid(
                    f"file: {image.width}x{image.height} pixels is more than the {MAX_PIXELS:,} pixels an image may have"
                )
            image.seek(0)
            image.load()
            upright = ImageOps.exif_transpose(image) or image
    except Invalid:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Invalid(f"file: the image is more than the {MAX_PIXELS:,} pixels an image may have") from None
    except Exception:  # noqa: BLE001 - UnidentifiedImageError, OSError, SyntaxError, struct.error...
        # Any failure to decode (a damaged file, a hostile one that trips a decoder) is the file's fault.
        raise Invalid("file: this is not a JPEG, PNG, WebP or GIF image (or it is damaged)") from None
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info)
    return upright.convert("RGBA" if has_alpha else "RGB")


def _webp(image: Image.Image, quality: int) -> Encoded:
    buffer = io.BytesIO()
    # No exif=, no icc_profile=: the new file carries none of the upload's metadata.
    image.save(buffer, format="WEBP", quality=quality, method=4)
    return Encoded(buffer.getvalue(), image.width, image.height)


def resize(image: Image.Image, kind: str) -> tuple[Encoded, Encoded]:
    """The stored image and its preview, as WebP."""
    if kind in BOXES:
        fitted = ImageOps.fit(image, BOXES[kind], Image.Resampling.LANCZOS)
        main = _webp(fitted, 85)
    else:
        fitted = image.copy()
        fitted.thumbnail((ATTACHMENT_SIDE, ATTACHMENT_SIDE), Image.Resampling.LANCZOS)
        main = _webp(fitted, 85)
    small = fitted.copy()
    small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    return main, _webp(small, 75)


def _blurhash(image: Image.Image) -> str | None:
    """A BlurHash of the image when the `blurhash` library is installed (optional), else None."""
    try:
        import blurhash  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        tiny = image.convert("RGB")
        tiny.thumbnail((64, 64))
        return str(blurhash.encode(tiny, x_components=4, y_components=3))[:100]
    except Exception:  # noqa: BLE001 - a preview nicety never fails an upload
        return None


def _write(relative: str, data: bytes) -> None:
    target = media_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".part")
    temporary.write_bytes(data)
    os.replace(temporary, target)


def remove_files(media: Media) -> None:
    """Delete a media row's files (the row is the caller's to delete)."""
    for relative in (media.path, media.preview_path):
        if relative:
            (media_root() / relative).unlink(missing_ok=True)


@dataclass(frozen=True)
class Prepared:
    """An upload checked and encoded, not stored yet (`prepare` needs no database: run it before the
    write transaction opens; `store` then writes the files and the row)."""

    kind: str
    main: Encoded
    small: Encoded
    blurhash: str | None


def prepare(data: bytes, kind: str = "attachment") -> Prepared:
    """Decode, check and encode an upload; Invalid naming the file when it cannot be an image here."""
    image = decode(data, kind)
    main, small = resize(image, kind)
    return Prepared(kind, main, small, _blurhash(image))


def process_upload(
    session: Session, profile: Profile, data: bytes, description: str = "", kind: str = "attachment"
) -> Media:
    """Check, resize and store an uploaded image for `profile`; the Media row (not yet attached to a
    status). An avatar or header replaces the profile's previous one (its files are deleted)."""
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(f"description: at most {MAX_DESCRIPTION} characters (now {len(description):,})")
    return store(session, profile, prepare(data, kind), description)


def upload(
    session: Session,
    profile: Profile,
    data: bytes,
    *,
    content_type: str = "",
    description: str = "",
    kind: str = "attachment",
) -> Media:
    """`process_upload` with the declared content type the web's compose form passes (ignored: the bytes decide)."""
    return process_upload(session, profile, data, description, kind=kind)


def store(session: Session, profile: Profile, prepared: Prepared, description: str = "") -> Media:
    """Write a prepared image's files and its Media row (see `process_upload`)."""
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(f"description: at most {MAX_DESCRIPTION} characters (now {len(description):,})")
    kind, main, small = prepared.kind, prepared.main, prepared.small
    name = secrets.token_hex(16)
    path, preview = f"{kind}/{name}.webp", f"{kind}/{name}-small.webp"
    _write(path, main.data)
    _write(preview, small.data)
    media = Media(
        id=new_id(),
        profile_id=profile.id,
        kind="image" if kind == "attachment" else kind,
        path=path,
        preview_path=preview,
        content_type="image/webp",
        description=description.strip(),
        width=main.width,
        height=main.height,
        blurhash=prepared.blurhash,
        state="ready",
    )
    if kind in BOXES:
        for old in session.scalars(select(Media).where(Media.profile_id == profile.id, Media.kind == kind)):
            remove_files(old)
            session.delete(old)
        if kind == "avatar":
            profile.avatar_url, profile.avatar_description = media_url(path), media.description
        else:
            profile.header_url, profile.header_description = media_url(path), media.description
    session.add(media)
    session.flush()
    return media


def remove_image(session: Session, profile: Profile, kind: str) -> bool:
    """Take away the profile's avatar or header; False when it had none."""
    if kind not in BOXES:
        raise Invalid(f"kind {kind[:20]!r} is avatar or header")
    found = False
    for old in session.scalars(select(Media).where(Media.profile_id == profile.id, Media.kind == kind)):
        remove_files(old)
        session.delete(old)
        found = True
    if kind == "avatar":
        profile.avatar_url, profile.avatar_description = None, ""
    else:
        profile.header_url, profile.header_description = None, ""
    session.flush()
    return found


UNATTACHED_FOR = timedelta(days=1)


def purge_unattached(session: Session, limit: int = 500) -> int:
    """Delete the attachments uploaded a day ago or more and never posted (rows and files); how many.
    Avatars and headers are kept: they belong to the profile, not to a status."""
    stale = session.scalars(
        select(Media)
        .where(
            Media.status_id.is_(None),
            Media.kind.not_in(BOXES),
            Media.remote_url.is_(None),
            Media.created_at <= now() - UNATTACHED_FOR,
        )
        .limit(limit)
    ).all()
    for media in stale:
        remove_files(media)
        session.delete(media)
    session.flush()
    return len(stale)


def purge_of_deleted_statuses(session: Session, limit: int = 500) -> int:
    """Delete the pictures of deleted statuses (their text is dropped when they are deleted; their
    pictures go here, rows and files), but not those of reported statuses; how many."""
    # Pictures of reported statuses stay: the moderators may need to see what was reported.
    reported = {int(i) for ids in session.scalars(select(Report.status_ids)) for i in (ids or []) if str(i).isdigit()}
    gone = [
        media
        for media in session.scalars(
            select(Media).join(Status, Status.id == Media.status_id).where(Status.deleted.is_(True)).limit(limit)
        )
        if media.status_id not in reported
    ]
    for media in gone:
        remove_files(media)
        session.delete(media)
    session.flush()
    return len(gone)


def describe(session: Session, media: Media, description: str) -> Media:
    """Change an image's alt text."""
    if len(description) > MAX_DESCRIPTION:
        raise Invalid(f"description: at most {MAX_DESCRIPTION} characters (now {len(description):,})")
    media.description = description.strip()
    session.flush()
    return media
