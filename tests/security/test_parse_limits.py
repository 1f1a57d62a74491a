"""Deeply nested TOML and JSON, and huge `day` numbers: a clear 400, never a 500.

The attacks: `extra = [[[[...]]]]` a few thousand deep in course.toml made tomllib raise
RecursionError; `day = 100000000000000000000` passed the checks and overflowed the database column;
a deeply nested JSON body to the signup API raised RecursionError. Each was a 500.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import pytest
from httpx import Response
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.testclient import TestClient

from courses.folder import import_course
from courses.forks import create_fork
from courses.models import Course
from courses.runs import create_run
from courses.versions import snapshot_of
from server.floor.accounts import Account, create_account
from server.floor.db import session_scope
from server.floor.errors import Invalid
from server.floor.settings import Settings
from server.floor.untrusted import bounded_json_loads, json_depth
from server.roof.app import create_app
from tests.web.conftest import csrf_of, log_in
from tests.web.coursepages import GENTLE, PASSWORD, start_in

HUGE = 10**20
DEEP = 5000


@pytest.fixture
def organizer(settings: Settings) -> Iterator[TestClient]:
    """The whole app, logged in as organizer Olga."""
    with session_scope() as db:
        create_account(db, "olga@example.org", PASSWORD, role="organizer")
    with TestClient(create_app(settings), base_url="http://testserver.localhost") as client:
        assert log_in(client, "olga@example.org").status_code == 303
        yield client


def course_zip(course_toml_tail: str = "", unit_front: str | None = None) -> bytes:
    """gentle-python as a .zip; `course_toml_tail` appended, the first unit's front matter replaced."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(GENTLE.rglob("*")):
            if not path.is_file():
                continue
            text = path.read_text()
            if path.name == "course.toml":
                text += course_toml_tail
            if path.name == "00-welcome.md" and unit_front is not None:
                text = "+++\n" + unit_front + "+++\n" + text.split("+++\n", 2)[2]
            archive.writestr(f"gentle-python/{path.relative_to(GENTLE)}", text)
    return buffer.getvalue()


def upload(client: TestClient, archive: bytes) -> Response:
    token = csrf_of(client, "/organize/import")
    return client.post(
        "/organize/import",
        data={"csrf_token": token},
        files={"archive": ("course.zip", archive, "application/zip")},
        follow_redirects=False,
    )


@pytest.mark.parametrize(
    "tail",
    [
        f"\n[extra]\ndeep = {'[' * DEEP}{']' * DEEP}\n",  # tomllib recursion
        f"\n[extra]\ndeep = {'{a = ' * DEEP}1{'}' * DEEP}\n",  # inline tables
        "\n[extra]\n" + ".".join(["a"] * DEEP) + " = 1\n",  # dotted keys: deep without recursion
    ],
    ids=["arrays", "inline-tables", "dotted-keys"],
)
def test_deep_toml_is_a_clear_400(organizer: TestClient, tail: str) -> None:
    response = upload(organizer, course_zip(tail))
    assert response.status_code == 400
    assert "course.toml" in response.text and "nested more than 32 levels deep" in response.text
    with session_scope() as db:
        assert db.scalar(select(Course)) is None


@pytest.mark.parametrize("day", [HUGE, -1, 3651])
def test_a_huge_day_in_a_unit_file_is_a_clear_400(organizer: TestClient, day: int) -> None:
    response = upload(organizer, course_zip(unit_front=f'title = "Welcome"\nday = {day}\n'))
    assert response.status_code == 400
    assert "units/00-welcome.md:3" in response.text and "0 to 3650" in response.text


@pytest.mark.parametrize("typed", [str(HUGE), "9" * 5000, "²", "-3"])
def test_a_huge_day_typed_in_the_editor_is_a_clear_400(organizer: TestClient, typed: str) -> None:
    with session_scope() as db:
        course = import_course(db, GENTLE)
        course.owner_id = db.scalar(select(Account.id).where(Account.email == "olga@example.org"))
    path = "/organize/courses/gentle-python/units/welcome"
    form = {"title": "Welcome", "day": typed, "body": "Hello.", "csrf_token": csrf_of(organizer, path)}
    response = organizer.post(path, data=form, follow_redirects=False)
    assert response.status_code == 400
    assert "day" in response.text
    with session_scope() as db:
        course = db.scalar(select(Course).where(Course.slug == "gentle-python"))
        assert course is not None and course.units[0].day == 0


def test_a_remote_snapshot_with_a_huge_day_is_refused(settings: Settings) -> None:
    with session_scope() as db:
        snapshot = snapshot_of(import_course(db, GENTLE))
    snapshot["units"][0]["day"] = HUGE
    snapshot["origin"] = "https://remote.example/courses/gentle-python"
    with session_scope() as db, pytest.raises(Invalid, match=r"units\[0\]\.day .* 0 to 3650"):
        create_fork(db, snapshot, origin_version=1, slug="copy")


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"answers": ' * 50 + b"{}" + b"}" * 50])
def test_deep_json_to_the_signup_api_is_a_clear_400(settings: Settings, body: bytes) -> None:
    with session_scope() as db:
        run = create_run(db, import_course(db, GENTLE), start_in(14), "Europe/Paris").handle
    with TestClient(create_app(settings), base_url="http://testserver.localhost") as client:
        # Within the API's 64 KB: the size limit is not what answers.
        response = client.post(
            f"/api/runs/{run}/signup", content=body[: 60 * 1024], headers={"content-type": "application/json"}
        )
    assert response.status_code == 400
    assert "nested more than" in response.json()["error"]


def test_bounded_json_loads_counts_brackets_outside_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": "\\"]]"}]}') == 3
    assert bounded_json_loads('{"a": [1, {"b": null}]}', max_depth=3) == {"a": [1, {"b": None}]}
    with pytest.raises(Invalid, match="nested more than 2"):
        bounded_json_loads("[[[1]]]", max_depth=2)
    with pytest.raises(Invalid, match="malformed JSON"):
        bounded_json_loads(b'{"a": ')


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=2000), st.text(alphabet='[]{}":,\\ a1', max_size=2000)))
def test_bounded_json_loads_never_fails_otherwise_than_invalid(body: bytes | str) -> None:
    try:
        value = bounded_json_loads(body, max_depth=8)
    except Invalid:
        return
    assert json.dumps(value) is not None
