"""Commands use the URL of the instance that owns the data dir (issue 15, item 2): `serve` remembers it in
DATA_DIR/instance.json, the others read it when MECHMOOC_URL is not set; MECHMOOC_URL still wins."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from server.floor.errors import SettingsError
from server.floor.settings import INSTANCE_FILE, load_settings, remember_url


def test_a_command_uses_the_url_serve_remembered(tmp_path: Path) -> None:
    environ = {"MECHMOOC_DATA_DIR": str(tmp_path)}
    assert load_settings(environ=environ).url == "http://127.0.0.1:8000"  # nothing served here yet
    served = load_settings(host="127.0.0.1", port=8123, environ=environ)
    assert served.url == "http://127.0.0.1:8123"
    remember_url(served)
    assert (tmp_path / INSTANCE_FILE).is_file()
    command = load_settings(environ=environ)
    assert command.url == "http://127.0.0.1:8123" and command.mail_domain == served.mail_domain
    # serve itself listens where it is told, whatever the last one remembered.
    assert load_settings(host="127.0.0.1", port=8000, environ=environ).url == "http://127.0.0.1:8000"
    # MECHMOOC_URL wins everywhere.
    pinned = {**environ, "MECHMOOC_URL": "http://mooc.localhost:9000"}
    assert load_settings(environ=pinned).url == "http://mooc.localhost:9000"
    assert load_settings(host="127.0.0.1", port=8123, environ=pinned).url == "http://mooc.localhost:9000"


def test_a_remembered_url_is_checked_like_mechmooc_url(tmp_path: Path) -> None:
    environ = {"MECHMOOC_DATA_DIR": str(tmp_path)}
    remember_url(replace(load_settings(environ=environ), url="http://courses.example.org"))
    with pytest.raises(SettingsError, match="must be https"):
        load_settings(environ=environ)  # not a local address: https unless MECHMOOC_INSECURE_HTTP=1


@pytest.mark.parametrize("text", ["", "{", "[]", '{"url": 8000}', '{"url": ""}', '{"port": 1}', "\udcff"])
def test_a_damaged_instance_file_is_a_one_line_error_naming_it(tmp_path: Path, text: str) -> None:
    (tmp_path / INSTANCE_FILE).write_text(text, encoding="utf-8", errors="surrogateescape")
    with pytest.raises(SettingsError) as caught:
        load_settings(environ={"MECHMOOC_DATA_DIR": str(tmp_path)})
    assert str(tmp_path / INSTANCE_FILE) in str(caught.value) and "MECHMOOC_URL" in str(caught.value)


def test_log_level_setting(tmp_path: Path) -> None:
    environ = {"MECHMOOC_DATA_DIR": str(tmp_path)}
    assert load_settings(environ=environ).log_level == "info"
    assert load_settings(environ={**environ, "MECHMOOC_LOG_LEVEL": "DEBUG"}).log_level == "debug"
    with pytest.raises(SettingsError, match="MECHMOOC_LOG_LEVEL must be one of debug, info, warning"):
        load_settings(environ={**environ, "MECHMOOC_LOG_LEVEL": "chatty"})


def test_mail_domain_is_the_url_host_unless_that_is_no_mail_domain(tmp_path: Path) -> None:
    environ = {"MECHMOOC_DATA_DIR": str(tmp_path), "MECHMOOC_INSECURE_HTTP": "1"}
    named = load_settings(environ={**environ, "MECHMOOC_URL": "http://mooc.localhost:8000"})
    assert (named.mail_domain, named.mail_from) == ("mooc.localhost", "noreply@mooc.localhost")
    literal = load_settings(environ=environ)  # http://127.0.0.1:8000: no address can end in an IP
    assert (literal.mail_domain, literal.mail_from) == ("mechmooc.localhost", "noreply@mechmooc.localhost")
