"""`mechmooc db ...` subcommands."""

import click  # noqa: F401

commands: list = []
