"""Settings are read once from the environment and bad values are named."""

import pytest

from server.floor.errors import SettingsError
from server.floor.settings import load_settings


def test_defaults_make_a_laptop_instance(tmp_path):
    settings = load_settings(environ={"MECHMOOC_DATA_DIR": str(tmp_path)})
    assert settings.url == "http://127.0.0.1:8000"
    assert settings.database_url == f"sqlite:///{tmp_path}/mechmooc.sqlite3"
    assert settings.embedded_broker and settings.smtp_url is None
    assert settings.mail_retry_hours == 48  # an SMTP outage of two days fails no mail


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("MECHMOOC_URL", "ftp://x", "MECHMOOC_URL"),
        ("MECHMOOC_SMTP_URL", "mail.example.org", "MECHMOOC_SMTP_URL"),
        ("MECHMOOC_INBOUND_SMTP", "nohost", "MECHMOOC_INBOUND_SMTP"),
        ("MECHMOOC_INSECURE_HTTP", "maybe", "MECHMOOC_INSECURE_HTTP"),
        ("MECHMOOC_DATABASE_URL", "mysql://x/y", "MECHMOOC_DATABASE_URL"),
        ("MECHMOOC_COLOUR", "blue", "MECHMOOC_COLOUR"),
        ("MECHMOOC_MAIL_RETRY_HOURS", "0", "MECHMOOC_MAIL_RETRY_HOURS must be at least 1"),
        ("MECHMOOC_MAIL_RETRY_HOURS", "two days", "MECHMOOC_MAIL_RETRY_HOURS must be a whole number"),
    ],
)
def test_bad_values_name_the_variable(name, value, fragment):
    with pytest.raises(SettingsError, match=fragment):
        load_settings(environ={name: value})


def test_insecure_http_is_refused_with_https_url():
    with pytest.raises(SettingsError, match="INSECURE_HTTP"):
        load_settings(environ={"MECHMOOC_URL": "https://mooc.example.org", "MECHMOOC_INSECURE_HTTP": "1"})
