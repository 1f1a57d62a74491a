"""What every subcommand shares: one-line errors, `--json` output, the bootstrapped instance."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from server.floor.errors import MechMoocError


class MechMoocGroup(click.Group):
    """A click group that turns domain errors into one line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:
            # One line, like every other error: the usage text is one `--help` away.
            where = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
            click.echo(f"error: {error.format_message()}{where}", err=True)
            sys.exit(error.exit_code)
        except MechMoocError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except OSError as error:
            click.echo(
                f"error: {error.strerror or error}{': ' + str(error.filename) if error.filename else ''}", err=True
            )
            sys.exit(1)


def emit(data: Any, as_json: bool, text: Callable[[Any], str] | None = None) -> None:
    """Print `data` as JSON, or as text through `text`."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    else:
        click.echo(text(data) if text else str(data))


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def instance(migrate: bool = True) -> Any:
    """Load settings, prepare the data dir and database, wire the packages; return the Settings."""
    from server.roof.bootstrap import boot

    return boot(migrate=migrate)
