"""The embedded broker: kombu's filesystem transport, made to outlive what a full disk leaves behind.

A disk that fills up while a message or an exchange table is written leaves a zero-byte or cut-off
file. kombu's own channel reads such a file, fails to decode it, and the worker dies on it
("Unrecoverable error: JSONDecodeError"), again after every restart. Here an undecodable message is
moved aside to `broker/bad/` and the next one is read; an undecodable exchange table is moved aside
too and rebuilt by the next queue binding. Nothing is lost by skipping: the broker only wakes
workers up, the work itself is rows in the database.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

log = logging.getLogger("mechmooc.broker")


def set_aside(path: Path, bad_folder: Path, reason: str) -> None:
    """Move `path` into `bad_folder` (same disk: a rename needs no space), or delete it if even that fails."""
    try:
        size: int | str = path.stat().st_size
    except OSError:
        size = "?"
    try:
        bad_folder.mkdir(parents=True, exist_ok=True)
        path.replace(bad_folder / path.name)
        where = f"moved to {bad_folder}"
    except OSError:
        try:
            path.unlink()
        except OSError:
            return  # gone already: another consumer took care of it
        where = "deleted (it could not be moved)"
    log.warning("embedded broker: %s (%s bytes) is not a message (%s); %s", path.name, size, reason, where)


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:120]}"


class Channel(filesystem.Channel):
    """kombu's filesystem channel whose reads survive zero-byte and garbage files."""

    @property
    def bad_folder(self) -> Path:
        """Where undecodable files go (`broker/bad` beside the queue folder unless configured)."""
        configured = self.transport_options.get("bad_folder")
        return Path(configured) if configured else Path(self.data_folder_in).parent / "bad"

    @property
    def claimed_folder(self) -> Path:
        """Where a message is renamed to while it is read: the rename is the claim, so two workers never share one."""
        configured = self.transport_options.get("claimed_folder")
        return Path(configured) if configured else Path(self.data_folder_in).parent / "claimed"

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        """The next decodable message of `queue`; undecodable ones are set aside on the way."""
        wanted = f"{queue}.msg"
        folder = Path(self.data_folder_in)
        claimed = self.claimed_folder
        claimed.mkdir(parents=True, exist_ok=True)
        for name in sorted(os.listdir(folder)):
            if name.partition(".")[2] != wanted:
                continue
            mine = claimed / name
            try:
                os.rename(folder / name, mine)
            except OSError:
                continue  # another consumer took it
            try:
                payload = mine.read_bytes()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ChannelError(f"Cannot read file {str(mine)!r} from queue.") from exc
            try:
                message = loads(bytes_to_str(payload))
                # What the virtual channel will read from it; a file without these kills the worker too.
                self.Message(message, channel=self)
            except Exception as error:  # noqa: BLE001 - whatever a broken file raises, it is skipped
                set_aside(mine, self.bad_folder, _reason(error))
                continue
            mine.unlink(missing_ok=True)
            return message
        raise Empty()

    def get_table(self, exchange: str) -> list[Any]:
        """The exchange's bindings; an undecodable table is set aside and read as empty (rebound at start)."""
        try:
            return list(super().get_table(exchange))
        except ValueError as error:
            set_aside(self._exchange_file(exchange), self.bad_folder, _reason(error))
            return []

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        try:
            super()._queue_bind(exchange, routing_key, pattern, queue)
        except ValueError as error:
            set_aside(self._exchange_file(exchange), self.bad_folder, _reason(error))
            super()._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    """The filesystem transport with the channel above (named by `broker_transport` in the Celery app)."""

    Channel = Channel
