"""The embedded broker's channel reads past what a full disk leaves (server/roof/file_broker.py)."""

from __future__ import annotations

import json

from server.floor.jobs import wake
from server.floor.settings import Settings
from server.roof.celery_app import broker_folders, install_waker, make_celery


def test_undecodable_messages_and_tables_are_set_aside(sqlite_settings: Settings) -> None:
    app = make_celery(sqlite_settings)
    install_waker(app)
    folders = broker_folders(sqlite_settings)
    queue, bad = folders["data_folder_in"], folders["bad_folder"]
    wake("server.heartbeat")  # a real message, in the default queue
    (queue / "0000001_a.default.msg").write_bytes(b"")
    (queue / "0000002_b.default.msg").write_bytes(b'{"body": "eyJ0YXNr')
    (queue / "0000003_c.default.msg").write_text(json.dumps({"no": "properties"}))
    (queue / "0000004_d.mail.msg").write_bytes(b"")  # another queue's: left for its consumer
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        message = channel._get("default")
        assert message["headers"]["task"] == "server.heartbeat"
        assert sorted(path.name for path in bad.iterdir()) == [
            "0000001_a.default.msg",
            "0000002_b.default.msg",
            "0000003_c.default.msg",
        ]
        assert (queue / "0000004_d.mail.msg").exists()

        # An exchange table cut to nothing reads as empty and is rebuilt by the next binding.
        table = folders["control_folder"] / "mail.exchange"
        table.write_bytes(b"")
        assert channel.get_table("mail") == []
        assert (bad / "mail.exchange").exists() and not table.exists()
        table.write_bytes(b"")
        channel._queue_bind("mail", "mail", "", "mail")
        assert [tuple(row) for row in channel.get_table("mail")] == [("mail", "", "mail")]
