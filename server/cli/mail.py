"""`mechmooc mail ...` subcommands."""

import click  # noqa: F401

commands: list = []
