"""The `mechmooc` command: one group, one module of subcommands per concern."""

from __future__ import annotations

import sys

from server.roof.cli import course, db, federation_cmds, mail, moderation_cmds, people, run, run_posts, serve, user
from server.roof.cli.base import MechMoocGroup

main = MechMoocGroup(name="mechmooc", help="Mechanical MOOC: a federated community server for peer-learning courses.")
for module in (serve, db, user, course, run, run_posts, mail, federation_cmds, people, moderation_cmds):
    for command in module.commands:
        main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
