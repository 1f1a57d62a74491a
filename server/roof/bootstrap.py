"""Start-up of any process of the instance: settings, data dir, database, wiring."""

from __future__ import annotations

import os
import secrets
from dataclasses import replace

from server.floor.config import get_settings, use_settings
from server.floor.db import get_engine
from server.floor.errors import SettingsError
from server.floor.settings import Settings, load_settings


def prepare_data_dir(settings: Settings) -> None:
    """Create the data dir and check it is writable, with a clear error if not."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SettingsError(f"MECHMOOC_DATA_DIR {settings.data_dir} cannot be created: {error.strerror}") from None
    if not os.access(settings.data_dir, os.W_OK):
        raise SettingsError(f"MECHMOOC_DATA_DIR {settings.data_dir} is not writable")


def _stored_secret(settings: Settings) -> str:
    """The instance secret kept in the data dir, created on first start (mode 0600)."""
    path = settings.data_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def check_database(settings: Settings) -> None:
    """Connect once, turning a wrong URL into a one-line error."""
    from sqlalchemy import text
    from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError, ArgumentError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise SettingsError(f"MECHMOOC_DATABASE_URL: cannot connect: {reason}") from None


def boot(
    settings: Settings | None = None, migrate: bool = True, host: str | None = None, port: int | None = None
) -> Settings:
    """Make this process an instance process; return its settings."""
    settings = settings or load_settings(host=host, port=port)
    prepare_data_dir(settings)
    if not settings.secret_key:
        settings = replace(settings, secret_key=_stored_secret(settings))
    use_settings(settings)
    check_database(settings)
    from server.roof.models import load_all

    load_all()
    if migrate:
        from server.roof.migrate import is_current, upgrade

        if not is_current(get_engine()):
            upgrade(get_engine())
    from server.roof.wiring import connect

    connect()
    return get_settings()
