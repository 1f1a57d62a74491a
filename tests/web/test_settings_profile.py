"""Profile settings (/settings/profile): text, fields, flags, avatar and header uploads, served /media."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select
from starlette.testclient import TestClient

from community.models import Profile
from server.floor.db import session_scope
from tests.community.test_media import picture, png_bomb
from tests.web.conftest import csrf_of, log_in


def profile_of(handle: str) -> Profile:
    with session_scope() as db:
        profile = db.scalar(select(Profile).where(Profile.username == handle))
        assert profile is not None
        db.expunge(profile)
        return profile


def base_form(client: TestClient, **values: str) -> dict[str, str]:
    return {"csrf_token": csrf_of(client, "/settings/profile"), "display_name": "Lena L.", "note": ""} | values


def test_settings_need_a_login(client: TestClient) -> None:
    response = client.get("/settings/profile", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_bio_fields_and_flags_are_saved_and_escaped(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["learner"])
    form = base_form(
        client,
        note="I learn #python with @otto <script>alert(1)</script> https://example.org/x",
        field_0_name="Site",
        field_0_value="https://lena.example.org",
        field_1_name="Pronouns",
        field_1_value="she/her",
        field_7_name="Ignored",
        field_7_value="a fifth and more are not read",
        locked="1",
        show_courses="1",
    )
    response = client.post("/settings/profile", data=form, follow_redirects=False)
    assert response.status_code == 303
    profile = profile_of("lena")
    assert "<script>" not in profile.note and "&lt;script&gt;" in profile.note
    assert 'href="https://example.org/x"' in profile.note and "#" in profile.note
    assert profile.note_source.startswith("I learn #python")
    assert [field["name"] for field in profile.fields] == ["Site", "Pronouns"]
    assert 'href="https://lena.example.org"' in profile.fields[0]["value"]
    assert profile.locked and profile.show_courses and not profile.discoverable and not profile.indexable
    assert profile.display_name == "Lena L."
    page = client.get("/settings/profile")
    assert 'value="Pronouns"' in page.text and "Lena L." in page.text


def test_huge_and_incomplete_fields_are_refused(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["learner"])
    cases = [
        ({"note": "x" * 501}, "Bio: at most 500 characters"),
        ({"display_name": "y" * 201}, "Display name: at most 200 characters"),
        ({"field_2_name": "z" * 300, "field_2_value": "v"}, "Field 3 label: at most 255 characters"),
        ({"field_0_value": "no label"}, "Field 1 label: give the field a label"),
    ]
    for values, message in cases:
        response = client.post("/settings/profile", data=base_form(client, **values))
        assert response.status_code == 400 and message in response.text, message
    huge = client.post("/settings/profile", data=base_form(client, note="x" * (2 * 1024 * 1024)))
    assert huge.status_code in (400, 413)  # the form parser's part limit, or the page's own check
    assert profile_of("lena").note_source == ""


def upload(client: TestClient, files: dict[str, tuple[str, bytes, str]], **values: str):  # type: ignore[no-untyped-def]
    return client.post("/settings/profile", data=base_form(client, **values), files=files, follow_redirects=False)


def test_an_avatar_is_uploaded_resized_and_served_safely(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["learner"])
    response = upload(
        client, {"avatar": ("me.jpg", picture((900, 600)), "image/jpeg")}, avatar_description="Lena smiling"
    )
    assert response.status_code == 303
    profile = profile_of("lena")
    assert profile.avatar_url and profile.avatar_description == "Lena smiling"
    path = profile.avatar_url.split("testserver.localhost", 1)[1]
    served = client.get(path)
    assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in served.headers["content-security-policy"]
    assert Image.open(io.BytesIO(served.content)).size == (400, 400)
    assert 'alt="Lena smiling"' in client.get("/settings/profile").text
    # The header comes later, the avatar stays.
    assert upload(client, {"header": ("h.png", picture((3000, 900), "PNG"), "image/png")}).status_code == 303
    assert profile_of("lena").avatar_url == profile.avatar_url and profile_of("lena").header_url
    assert client.get("/media/avatar/../../mechmooc.sqlite3").status_code == 404
    assert client.get("/media/avatar/0123.webp").status_code == 404
    assert client.get("/media/mechmooc.sqlite3").status_code == 404
    assert client.get("/media/avatar/" + "a" * 32 + ".webp").status_code == 404


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bomb.png", png_bomb(100_000, 100_000), "pixels"),
        ("cat.png", b"<html><script>alert(document.cookie)</script></html>", "not a JPEG, PNG, WebP or GIF"),
        ("cat.gif", picture((20, 20), "TIFF"), "not a JPEG, PNG, WebP or GIF"),
    ],
)
def test_hostile_uploads_are_refused_and_nothing_changes(
    client: TestClient, people: dict[str, str], name: str, data: bytes, message: str
) -> None:
    log_in(client, people["learner"])
    response = upload(client, {"avatar": (name, data, "image/png")}, note="kept?")
    assert response.status_code == 400 and "Avatar:" in response.text and message in response.text
    profile = profile_of("lena")
    assert profile.avatar_url is None and profile.note_source == ""


def test_a_file_over_the_limit_is_refused(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["learner"])
    response = upload(client, {"header": ("big.jpg", b"\xff\xd8" + b"\x00" * (8 * 1024 * 1024 + 10), "image/jpeg")})
    assert response.status_code == 400 and "is over the 8 MB" in response.text


def test_the_account_page_name_is_the_profile_name(client: TestClient, people: dict[str, str]) -> None:
    log_in(client, people["learner"])
    client.get("/settings/profile")  # the profile exists
    token = csrf_of(client, "/account")
    client.post("/account/profile", data={"display_name": "Lena Lovelace", "csrf_token": token})
    assert profile_of("lena").display_name == "Lena Lovelace"
