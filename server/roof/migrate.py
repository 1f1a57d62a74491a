"""Alembic migrations, driven from Python (`mechmooc db upgrade`, and `serve` at start)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import migrations

SCRIPT_LOCATION = str(Path(migrations.__file__).parent)
log = logging.getLogger("mechmooc.migrate")


def alembic_config(database_url: str) -> Config:
    """An Alembic Config pointing at our migrations and `database_url`."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("version_locations", str(Path(SCRIPT_LOCATION) / "versions"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> int:
    """Apply every migration up to the heads of all branches; how many were applied (one console line)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    script = ScriptDirectory.from_config(config)
    with engine.begin() as connection:
        heads = tuple(MigrationContext.configure(connection).get_current_heads())
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    # Alembic says a line per migration (at debug on the console); this is the one line at info.
    done = len(list(script.walk_revisions())) - (len(list(script.iterate_revisions(heads, "base"))) if heads else 0)
    log.info("database migrated to the latest version (%d migrations applied)", done)
    return done


def is_current(engine: Engine) -> bool:
    """True when the database is at every head (nothing to migrate)."""
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(hide_password=False)))
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(script.get_heads())
    if current == heads:
        return True
    # A branch's head another branch depends on (community's first revision depends on core's and
    # mail's heads) is no row of alembic_version once the dependent one is applied: it is reached.
    reached = {revision.revision for revision in script.iterate_revisions(tuple(current), "base")} if current else set()
    return heads <= reached
