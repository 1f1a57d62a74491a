"""The provider webhooks' settings are checked at start, each error naming its variable."""

from __future__ import annotations

import pytest

from server.floor.errors import SettingsError
from server.floor.settings import load_settings

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-bounces"
SENDGRID = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="


def test_everything_is_off_by_default() -> None:
    settings = load_settings(environ={})
    assert (settings.webhook_mailgun_key, settings.webhook_postmark_auth, settings.webhook_sendgrid_key) == (
        None,
        None,
        None,
    )
    assert settings.webhook_ses_topics == () and not settings.webhook_ses_confirm
    assert settings.min_free_disk_mb == 100


def test_good_values_are_kept() -> None:
    settings = load_settings(
        environ={
            "MECHMOOC_WEBHOOK_SES": f"{TOPIC}, {TOPIC}-2",
            "MECHMOOC_WEBHOOK_SES_CONFIRM": "1",
            "MECHMOOC_WEBHOOK_MAILGUN_KEY": "key-abc",
            "MECHMOOC_WEBHOOK_POSTMARK_AUTH": "hook:s3cret:with-colon",
            "MECHMOOC_WEBHOOK_SENDGRID_KEY": SENDGRID,
            "MECHMOOC_MIN_FREE_DISK_MB": "500",
        }
    )
    assert settings.webhook_ses_topics == (TOPIC, f"{TOPIC}-2") and settings.webhook_ses_confirm
    assert settings.webhook_postmark_auth == "hook:s3cret:with-colon" and settings.min_free_disk_mb == 500


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("WEBHOOK_SES", "1", "MECHMOOC_WEBHOOK_SES must be the ARNs"),
        ("WEBHOOK_SES_CONFIRM", "1", "needs MECHMOOC_WEBHOOK_SES"),
        ("WEBHOOK_POSTMARK_AUTH", "just-a-password", "MECHMOOC_WEBHOOK_POSTMARK_AUTH must be user:password"),
        ("WEBHOOK_SENDGRID_KEY", "not a key", "MECHMOOC_WEBHOOK_SENDGRID_KEY must be the verification key"),
        ("MIN_FREE_DISK_MB", "lots", "MECHMOOC_MIN_FREE_DISK_MB must be a whole number"),
    ],
)
def test_a_wrong_value_stops_the_start_naming_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=says):
        load_settings(environ={f"MECHMOOC_{name}": value})
