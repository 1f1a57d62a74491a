"""`mechmooc user ...` subcommands."""

import click  # noqa: F401

commands: list = []
