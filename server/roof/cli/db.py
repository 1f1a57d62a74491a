"""`mechmooc db ...`: the database schema."""

from __future__ import annotations

import click

from server.roof.cli.base import instance


@click.group()
def db() -> None:
    """The database schema."""


@db.command()
def upgrade() -> None:
    """Apply every Alembic migration up to the heads of all branches."""
    from server.floor.db import get_engine
    from server.roof.migrate import is_current

    instance(migrate=True)
    if not is_current(get_engine()):  # boot() migrated; say so only if that somehow did not take
        raise click.ClickException("the database is not at the latest revision after upgrading")
    click.echo("database is up to date")


commands: list[click.Command] = [db]
