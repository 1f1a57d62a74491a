"""The shell served by a real `mechmooc serve`: pages, login over HTTP, and sessions that survive a restart."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from tests.support.instances import Instance

pytestmark = pytest.mark.slow
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(client: httpx.Client, path: str) -> str:
    match = CSRF.search(client.get(path).text)
    assert match, path
    return match.group(1)


def test_admin_logs_in_edits_the_instance_and_stays_logged_in_across_a_restart(tmp_path: Path) -> None:
    instance = Instance(tmp_path / "alpha", worker=False).start()
    try:
        created = instance.cli("user", "create", "ada@example.org", "--password", "correct horse", "--role", "admin")
        assert created.returncode == 0, created.stderr
        with httpx.Client(base_url=instance.url, timeout=10) as browser:
            home = browser.get("/")
            assert home.status_code == 200 and '<h1 id="intro-title">Mechanical MOOC</h1>' in home.text
            assert browser.get("/about").status_code == 200
            css = re.search(r'href="(/static/site\.css\?v=\w+)"', home.text)
            assert css and browser.get(css.group(1)).status_code == 200

            form = {"email": "ada@example.org", "password": "correct horse", "csrf_token": token(browser, "/login")}
            assert browser.post("/login", data=form).status_code == 303
            edit = {
                "name": "Lyon Learns",
                "description": "Peer learning in Lyon.",
                "rules": "Be kind.",
                "contact": "https://lyon.example.org/contact",
                "csrf_token": token(browser, "/admin/instance"),
            }
            assert browser.post("/admin/instance", data=edit).status_code == 303

            cookie = browser.cookies["mechmooc_session"]
            instance.stop()
            instance.start()
            # The session secret lives in the data dir, so the cookie is still good after a restart.
            assert browser.cookies["mechmooc_session"] == cookie
            page = browser.get("/admin/instance")
            assert page.status_code == 200 and 'value="Lyon Learns"' in page.text
            about = browser.get("/about").text
            assert "<h1>About Lyon Learns</h1>" in about
            assert 'href="https://lyon.example.org/contact"' in about
    finally:
        instance.stop()
