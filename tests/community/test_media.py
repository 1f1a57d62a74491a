"""Uploaded images (community.media): decoded, not trusted by name; bombs refused; resized; EXIF gone."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from community import media
from community.models import Media, Profile, Report
from community.people import local_profile
from server.floor.accounts import create_account
from server.floor.errors import Invalid


@pytest.fixture
def profile(session: Session) -> Profile:
    return local_profile(session, create_account(session, "pia@example.org", handle="pia"))


def picture(size: tuple[int, int], fmt: str = "JPEG", mode: str = "RGB", **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "orange" if mode != "1" else 1).save(buffer, format=fmt, **save)
    return buffer.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A PNG that declares a huge canvas in a few hundred bytes (the pixels compress to nothing)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    rows = zlib.compress(b"\x00" * 1000)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def stored(item: Media) -> Image.Image:
    assert item.path is not None
    return Image.open(media.media_root() / item.path)


def test_a_photo_is_resized_reencoded_and_loses_its_exif(session: Session, profile: Profile) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees to show it upright
    exif[0x010F] = "SpyCam"  # make
    exif[0x8825] = {2: (48.0, 51.0, 24.0)}  # GPS latitude
    data = picture((3000, 1000), exif=exif.tobytes())
    item = media.process_upload(session, profile, data, "A long orange wall", kind="attachment")
    image = stored(item)
    assert image.format == "WEBP" and (image.width, image.height) == (640, 1920)  # upright, then fitted
    assert (item.width, item.height) == (640, 1920) and item.content_type == "image/webp"
    assert (
        not image.getexif()
        and "exif" not in image.info
        and b"SpyCam" not in (media.media_root() / item.path).read_bytes()
    )  # type: ignore[operator]
    assert item.preview_path and Image.open(media.media_root() / item.preview_path).height == 640
    assert item.description == "A long orange wall" and item.status_id is None and item.kind == "image"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_the_other_accepted_formats(session: Session, profile: Profile, fmt: str) -> None:
    item = media.process_upload(session, profile, picture((50, 40), fmt), kind="attachment")
    assert (item.width, item.height) == (50, 40)


def test_avatar_and_header_are_cropped_to_their_boxes_and_replaced(session: Session, profile: Profile) -> None:
    first = media.process_upload(session, profile, picture((1000, 500)), "Me", kind="avatar")
    assert (first.width, first.height) == (400, 400) and profile.avatar_url and profile.avatar_description == "Me"
    old_file = media.media_root() / first.path  # type: ignore[operator]
    second = media.process_upload(session, profile, picture((300, 300), "PNG"), "Me again", kind="avatar")
    assert not old_file.exists() and profile.avatar_url.endswith(second.path)  # type: ignore[union-attr, arg-type]
    header = media.process_upload(session, profile, picture((800, 800)), "A lake", kind="header")
    assert (header.width, header.height) == (1500, 500) and profile.header_description == "A lake"
    kinds = sorted(m.kind for m in session.scalars(select(Media).where(Media.profile_id == profile.id)))
    assert kinds == ["avatar", "header"]
    assert media.remove_image(session, profile, "avatar") and profile.avatar_url is None


def test_a_png_bomb_is_refused_before_its_pixels_are_decoded(session: Session, profile: Profile) -> None:
    for width, height in ((100_000, 100_000), (10_000, 4_000)):
        bomb = png_bomb(width, height)
        assert len(bomb) < 1000
        with pytest.raises(Invalid, match="pixels"):
            media.process_upload(session, profile, bomb, kind="avatar")
    assert not (media.media_root() / "avatar").exists()


@pytest.mark.parametrize(
    "data",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        b"<html><script>alert(1)</script></html>",
        b"%PDF-1.4\n%...",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,  # a PNG signature and nothing valid
        picture((10, 10))[:60],  # a JPEG cut short
        picture((10, 10), "TIFF"),  # an image, but not a format we take
        picture((10, 10), "BMP"),
    ],
)
def test_a_file_that_is_not_an_accepted_image_is_refused(session: Session, profile: Profile, data: bytes) -> None:
    with pytest.raises(Invalid, match="file: this is not a JPEG, PNG, WebP or GIF image"):
        media.process_upload(session, profile, data, kind="attachment")


def test_sizes_and_descriptions_are_limited(session: Session, profile: Profile) -> None:
    with pytest.raises(Invalid, match="file: 8.0 MB is over the 8 MB"):
        media.process_upload(session, profile, b"\xff" * (8 * media.MB + 1), kind="avatar")
    with pytest.raises(Invalid, match="file: the file is empty"):
        media.process_upload(session, profile, b"", kind="header")
    with pytest.raises(Invalid, match="description: at most 1500"):
        media.process_upload(session, profile, picture((10, 10)), "x" * 1501)
    with pytest.raises(Invalid, match="kind 'banner'"):
        media.process_upload(session, profile, picture((10, 10)), kind="banner")


def test_an_avatar_cannot_be_attached_to_a_status(session: Session, profile: Profile) -> None:
    from community import statuses

    avatar = media.process_upload(session, profile, picture((100, 100)), kind="avatar")
    with pytest.raises(Invalid, match="media_ids: no media"):
        statuses.post(session, profile, "hello", visibility="public", media_ids=[avatar.id])
    attachment = media.upload(session, profile, picture((100, 100)), content_type="image/png", description="a dot")
    status = statuses.post(session, profile, "hello", visibility="public", media_ids=[attachment.id])
    assert attachment.status_id == status.id


def test_pictures_never_posted_are_deleted_a_day_later(session: Session, profile: Profile) -> None:
    from datetime import UTC, datetime, timedelta

    from community import statuses
    from server.floor.clock import frozen

    with frozen(datetime.now(UTC) - timedelta(days=2)):
        forgotten = media.process_upload(session, profile, picture((20, 20)), kind="attachment")
        posted = media.process_upload(session, profile, picture((20, 20)), kind="attachment")
        avatar = media.process_upload(session, profile, picture((20, 20)), kind="avatar")
    statuses.post(session, profile, "with a picture", visibility="public", media_ids=[posted.id])
    fresh = media.process_upload(session, profile, picture((20, 20)), kind="attachment")
    path = media.media_root() / forgotten.path  # type: ignore[operator]
    assert path.exists()
    assert media.purge_unattached(session) == 1
    assert not path.exists() and session.get(Media, forgotten.id) is None
    assert all(session.get(Media, m.id) is not None for m in (posted, avatar, fresh))


def test_the_pictures_of_a_deleted_status_are_deleted(session: Session, profile: Profile) -> None:
    from community import statuses

    kept = media.process_upload(session, profile, picture((20, 20)), kind="attachment")
    dropped = media.process_upload(session, profile, picture((20, 20)), kind="attachment")
    statuses.post(session, profile, "stays", visibility="public", media_ids=[kept.id])
    doomed = statuses.post(session, profile, "goes", visibility="public", media_ids=[dropped.id])
    path = media.media_root() / dropped.path  # type: ignore[operator]
    reported_media = media.process_upload(session, profile, picture((20, 20)), kind="attachment")
    reported = statuses.post(session, profile, "reported", visibility="public", media_ids=[reported_media.id])
    session.add(Report(target_id=profile.id, status_ids=[reported.id], comment="look"))
    statuses.delete(session, doomed)
    statuses.delete(session, reported)
    assert media.purge_of_deleted_statuses(session) == 1
    assert session.get(Media, reported_media.id) is not None
    assert not path.exists() and session.get(Media, dropped.id) is None and session.get(Media, kept.id) is not None
