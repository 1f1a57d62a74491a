"""The first-run page (issue 15, item 1): linked from the home page while the instance is new or a demo,
it says what to do next, with the demo's own course, run, group and a ready command to mail the group."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from courses.models import Enrollment, Run, StudyGroup
from server.floor.accounts import create_account
from server.floor.config import use_settings
from server.floor.db import session_scope
from server.floor.settings import Settings
from server.roof.app import create_app
from server.roof.demo import DEMO_LEARNERS, demo_login_link, fill_demo
from tests.web.conftest import PASSWORD, csrf_of, log_in


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    """The whole app, receiving group mail by SMTP as `serve --demo` does."""
    demo_settings = replace(settings, inbound_smtp=("127.0.0.1", 2525))
    use_settings(demo_settings)
    with TestClient(create_app(demo_settings), base_url="http://testserver.localhost") as client:
        yield client
    use_settings(settings)


def test_a_fresh_instance_links_first_steps_until_it_has_an_admin(web: TestClient) -> None:
    assert 'href="/welcome"' in web.get("/").text
    page = web.get("/welcome").text
    assert "mechmooc user create you@example.org --name" in page and "--role admin" in page
    assert "mechmooc user login-link" in page
    with session_scope() as db:
        create_account(db, "ada@example.org", PASSWORD, role="admin")
    assert 'href="/welcome"' not in web.get("/").text
    assert web.get("/welcome").status_code == 200  # still there for whoever looks


def test_the_demo_tour(web: TestClient) -> None:
    assert fill_demo()
    with session_scope() as db:
        run = db.scalar(select(Run))
        group = db.scalar(select(StudyGroup))
        assert run is not None and group is not None
        members = set(db.scalars(select(Enrollment.email).where(Enrollment.group_id == group.id)))
        run_handle, group_handle = run.handle, group.handle
    assert members == {email for email, _, _ in DEMO_LEARNERS}
    assert 'href="/welcome"' in web.get("/").text
    page = web.get("/welcome").text
    assert f'href="/runs/{run_handle}#signup"' in page and 'href="/courses/gentle-python"' in page
    address = f"{group_handle}@lists.example.org"
    assert address in page and "127.0.0.1:2525" in page
    commands = [html.unescape(code) for code in re.findall(r'<pre class="command"><code>(.*?)</code>', page)]
    swaks = next(command for command in commands if command.startswith("swaks"))
    python = next(command for command in commands if command.startswith("python3"))
    assert "--server 127.0.0.1:2525 --from ada@example.org --to " + address in swaks
    assert "smtplib.SMTP('127.0.0.1', 2525)" in python and f"'{address}'" in python
    assert "demo-admin@example.org" in page
    assert "/outbox" not in page  # the data dir's path is for admins only

    link = demo_login_link()
    assert link is not None and "/login/once/" in link
    path = link.split("/", 3)[3]
    web.get("/" + path)
    logged = web.post("/" + path, data={"csrf_token": csrf_of(web, "/" + path)}, follow_redirects=False)
    assert logged.status_code == 303 and logged.headers["location"] == "/welcome"
    as_admin = web.get("/welcome").text
    assert "Done: you are logged in as Demo admin" in as_admin and "/outbox</code>" in as_admin
    assert f'href="/groups/{group_handle}"' in as_admin and 'href="/admin/mail"' in as_admin

    hidden = web.post("/welcome/hide", data={"csrf_token": csrf_of(web, "/welcome")}, follow_redirects=False)
    assert hidden.status_code == 303
    assert 'href="/welcome"' not in web.get("/").text
    assert not fill_demo()  # a second `serve --demo` adds nothing and keeps the page hidden
    assert 'href="/welcome"' not in web.get("/").text


def test_only_an_admin_hides_the_page(web: TestClient) -> None:
    fill_demo()
    with session_scope() as db:
        create_account(db, "otto@example.org", PASSWORD, role="organizer")
    log_in(web, "otto@example.org")
    refused = web.post("/welcome/hide", data={"csrf_token": csrf_of(web, "/welcome")}, follow_redirects=False)
    assert refused.status_code == 403
    assert 'href="/welcome"' in web.get("/").text
