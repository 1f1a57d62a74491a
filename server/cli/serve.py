"""`mechmooc serve ...` subcommands."""

import click  # noqa: F401

commands: list = []
